"""`manage.py import_events`: NDJSON lines checked as the API checks events, errors by
line, duplicates, standard input."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ingestion.management.bulk import MAX_LINE_BYTES, MAX_REPORTED_ERRORS
from ingestion.validation import OUT_OF_RANGE
from tests.conftest import run_json
from tests.ingestion.helpers import counts, days_ago, event, ndjson


def test_import_events_accepts_good_lines_and_reports_bad_ones_by_line(acme, tmp_path, capsys):
    path = ndjson(
        tmp_path / "events.ndjson",
        event(event_id="e1"),
        "",
        "{not json",
        event(event_id="e2", event__type="nope"),
        {"event_id": "e3"},
        "   ",
        "[1, 2]",
        event(event_id="e4", project_id="proj_globex"),
        event(event_id="e5"),
    )
    out = run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    assert (out["accepted"], out["duplicates"], out["rejected"]) == (2, 0, 5)
    errors = out["errors"]
    assert [e["line"] for e in errors] == [3, 4, 5, 5, 5, 7, 8]
    assert errors[0]["field"] is None and errors[0]["message"].startswith("invalid JSON")
    assert errors[1]["field"] == "event.type"
    assert {e["field"] for e in errors[2:5]} == {"session.id", "event.type", "event.timestamp"}
    assert (errors[5]["line"], errors[5]["field"]) == (7, None)
    assert errors[5]["message"] == "an event must be a JSON object, not an array"
    assert errors[6]["field"] == "project_id"
    assert counts(acme) == (2, 2)


def test_import_events_reports_a_number_out_of_range_as_the_api_does(acme, tmp_path, capsys):
    path = tmp_path / "range.ndjson"
    good = json.dumps(event(event_id="e1")).encode()
    huge = json.dumps(event(event_id="e2")).encode()[:-1] + b', "performance.cls": 1e400}'
    broken = b'{"event_id": "e3", "n": 1e400, "m": }'  # msgspec names the range first
    path.write_bytes(huge + b"\n" + good + b"\n" + broken + b"\n")
    out = run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    assert (out["accepted"], out["rejected"]) == (1, 2)
    assert out["errors"][0] == {
        "line": 1,
        "field": None,
        "code": "invalid",
        "message": OUT_OF_RANGE,
    }
    assert out["errors"][1]["line"] == 3
    assert out["errors"][1]["message"].startswith("invalid JSON")


def test_import_events_refuses_an_event_older_than_the_retention_as_the_api_does(
    acme, tmp_path, capsys
):
    path = ndjson(
        tmp_path / "old.ndjson",
        event(event_id="old", event__timestamp=days_ago(91)),
        event(event_id="kept", event__timestamp=days_ago(89)),
    )
    out = run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    assert (out["accepted"], out["rejected"]) == (1, 1)
    [error] = out["errors"]
    assert (error["line"], error["field"], error["code"]) == (1, "event.timestamp", "too_old")
    assert error["message"].startswith("is too old: older than the organization's retention")
    assert counts(acme) == (1, 1)


def test_import_events_names_a_lone_surrogate_escape(acme, tmp_path, capsys):
    path = tmp_path / "surrogate.ndjson"
    paired = json.dumps(event(event_id="e1", page__title="\U0001f600"))  # ASCII: \ud83d\ude00
    lone = json.dumps(event(event_id="e2")).encode()[:-1] + b', "page.title": "\\ud800"}'
    path.write_bytes(paired.encode() + b"\n" + lone + b"\n")
    out = run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    assert (out["accepted"], out["rejected"]) == (1, 1)
    assert out["errors"][0]["line"] == 2
    assert "lone surrogate escape" in out["errors"][0]["message"]


def test_import_events_reports_a_line_that_is_not_utf8_and_goes_on(acme, tmp_path, capsys):
    path = tmp_path / "latin1.ndjson"
    good = json.dumps(event(event_id="e1")).encode()
    path.write_bytes(b'{"event_id": "caf\xe9"}\n' + good + b"\n")
    out = run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    assert (out["accepted"], out["rejected"]) == (1, 1)
    assert out["errors"][0]["line"] == 1 and out["errors"][0]["message"].startswith("invalid JSON")
    assert counts(acme) == (1, 1)


def test_import_events_twice_gives_duplicates_not_new_rows(acme, tmp_path, capsys):
    path = ndjson(tmp_path / "e.ndjson", *(event(event_id=f"e{i}") for i in range(5)))
    first = run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    again = run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    assert (first["accepted"], first["duplicates"]) == (5, 0)
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (5, 5, 0)
    assert counts(acme) == (5, 5)


def test_import_events_numbers_lines_across_chunks(acme, tmp_path, capsys) -> None:
    lines: list[dict[str, Any] | str] = [
        event(event_id=f"e{i}", session__id=f"s{i % 7}") for i in range(2500)
    ]
    lines[1499] = event(event_id="bad", event__timestamp="yesterday")
    lines[2000] = "oops"
    path = ndjson(tmp_path / "big.ndjson", *lines)
    out = run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    assert (out["accepted"], out["rejected"]) == (2498, 2)
    assert [(e["line"], e["field"]) for e in out["errors"]] == [
        (1500, "event.timestamp"),
        (2001, None),
    ]
    assert counts(acme) == (2498, 2498)


def test_import_events_reports_an_over_long_line_and_goes_on(acme, tmp_path, capsys):
    huge = json.dumps(event(event_id="huge", padding="x" * (MAX_LINE_BYTES + 10)))
    path = ndjson(tmp_path / "long.ndjson", huge, event(event_id="after"))
    out = run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    assert (out["accepted"], out["rejected"]) == (1, 1)
    assert out["errors"][0]["line"] == 1 and "longer than" in out["errors"][0]["message"]


def test_import_events_skips_a_byte_order_mark_and_caps_the_error_list(acme, tmp_path, capsys):
    path = tmp_path / "bom.ndjson"
    body = json.dumps(event(event_id="e1")) + "\n" + "oops\n" * (MAX_REPORTED_ERRORS + 5)
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    out = run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    assert (out["accepted"], out["rejected"]) == (1, MAX_REPORTED_ERRORS + 5)
    assert len(out["errors"]) == MAX_REPORTED_ERRORS and out["errors_omitted"] == 5
    assert out["errors"][0]["line"] == 2


def test_import_events_prints_each_error_with_its_line(acme, tmp_path, capsys):
    path = ndjson(tmp_path / "e.ndjson", event(event_id="e1"), event(event_id="e2", event__type=1))
    call_command("import_events", "--project", "proj_acme", str(path))
    out = capsys.readouterr().out
    assert "1 accepted (1 new, 0 duplicates), 1 rejected" in out
    assert "line 2: event.type: must be a string, not a number" in out


def test_import_events_of_an_unknown_project_fails_in_one_line(db, tmp_path):
    path = ndjson(tmp_path / "e.ndjson", event())
    with pytest.raises(CommandError, match="no project with public id 'proj_nope'"):
        call_command("import_events", "--project", "proj_nope", str(path))


def test_import_events_of_an_unreadable_file_fails_in_one_line(acme, tmp_path, capsys):
    missing = tmp_path / "missing.ndjson"
    with pytest.raises(CommandError, match=r"cannot read .*missing\.ndjson: No such file"):
        call_command("import_events", "--project", "proj_acme", str(missing), "--json")
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "command_error"
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_events", "--project", "proj_acme", str(tmp_path))


def test_import_events_reads_standard_input_for_a_dash(acme, monkeypatch, capsys):
    lines = [json.dumps(event(event_id="e1")), json.dumps(event(event_id="e2"))]
    stdin = io.TextIOWrapper(io.BytesIO("\n".join(lines).encode()))
    monkeypatch.setattr("sys.stdin", stdin)
    out = run_json(capsys, "import_events", "--project", "proj_acme", "-")
    assert (out["accepted"], out["rejected"]) == (2, 0)
    assert not stdin.closed
