"""The ingestion ops commands: generate, import, purge, partitions; isolation of acme/globex."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from ingestion.management.bulk import (
    MAX_LINE_BYTES,
    MAX_REPORTED_ERRORS,
    Chunk,
    IngestProcessError,
    shards_ingest,
)
from ingestion.models import Event, EventKey
from ingestion.partitions import partition_months
from ingestion.tasks import ensure_partitions_task
from ingestion.validation import OUT_OF_RANGE
from orgs.models import MAX_RETENTION_DAYS, Organization
from productgraph.tenancy.context import org_context
from tests.conftest import Tenant, make_tenant
from tests.ingestion.helpers import event


def run_json(capsys, *args) -> dict:
    call_command(*args, "--json")
    return json.loads(capsys.readouterr().out)


def counts(tenant: Tenant) -> tuple[int, int]:
    """Return how many events and keys the tenant's org holds."""
    with transaction.atomic(), org_context(tenant.org.pk):
        return (
            Event.objects.filter(org_id=tenant.org.pk).count(),
            EventKey.objects.filter(org_id=tenant.org.pk).count(),
        )


def ndjson(path: Path, *lines: dict[str, Any] | str) -> Path:
    """Write lines (dicts as JSON, strings as they are) to a file."""
    path.write_text(
        "".join((json.dumps(line) if isinstance(line, dict) else line) + "\n" for line in lines)
    )
    return path


def days_ago(days: float) -> str:
    return (timezone.now() - timedelta(days=days)).isoformat()


# --- generate_events ---------------------------------------------------------------------


class RecordingBar:
    """Stands for tqdm: records what a command's progress bar was told."""

    made: list[RecordingBar] = []

    def __init__(self, *, total: int, **_options: Any) -> None:
        self.total, self.done = total, 0
        RecordingBar.made.append(self)

    def update(self, amount: int) -> None:
        self.done += amount

    def set_postfix_str(self, *_args: Any, **_options: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> RecordingBar:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        pass


def test_generate_and_import_report_their_progress(acme, tmp_path, capsys, monkeypatch):
    from ingestion.management.commands import generate_events, import_events

    RecordingBar.made = []
    monkeypatch.setattr(generate_events, "tqdm", RecordingBar)
    monkeypatch.setattr(import_events, "tqdm", RecordingBar)
    call_command("generate_events", "--project", "proj_acme", "--sessions", "6")
    path = ndjson(tmp_path / "p.ndjson", event(event_id="p1"), event(event_id="p2"))
    call_command("import_events", "--project", "proj_acme", str(path))
    capsys.readouterr()
    sessions, size = RecordingBar.made
    assert sessions.total == sessions.done == 6  # by sessions
    assert size.total == size.done == path.stat().st_size  # by bytes read


def test_generate_events_stores_every_event_in_the_projects_org_only(acme, globex, capsys):
    out = run_json(capsys, "generate_events", "--project", "proj_acme", "--sessions", "30")
    assert out["project"] == "proj_acme" and out["sessions"] == 30
    assert out["events"] == out["inserted"] > 30 and out["rejected"] == 0
    assert out["seconds"] >= 0 and isinstance(out["seed"], int)
    assert counts(acme) == (out["events"], out["events"])
    assert counts(globex) == (0, 0)


def test_generate_events_spreads_sessions_over_the_last_days(acme, capsys):
    before = timezone.now()
    run_json(capsys, "generate_events", "--project", "proj_acme", "--sessions", "40", "--days", "2")
    with transaction.atomic(), org_context(acme.org.pk):
        stamps = list(Event.objects.filter(org_id=acme.org.pk).values_list("timestamp", flat=True))
        sessions = Event.objects.filter(org_id=acme.org.pk).values("session_id").distinct()
        assert sessions.count() == 40
    assert min(stamps) >= before - timedelta(days=2)
    assert max(stamps) <= timezone.now()


def test_generate_events_with_the_same_seed_again_stores_nothing_new(acme, capsys):
    args = ("generate_events", "--project", "proj_acme", "--sessions", "10", "--seed", "42")
    first = run_json(capsys, *args)
    again = run_json(capsys, *args)
    assert again["events"] == first["events"] == again["duplicates"]
    assert again["inserted"] == 0
    assert counts(acme)[0] == first["events"]


def test_generate_events_prints_a_human_summary(acme, capsys):
    call_command("generate_events", "--project", "proj_acme", "--sessions", "3", "--seed", "1")
    out = capsys.readouterr().out
    assert "proj_acme: 3 sessions" in out and "events/s" in out and "seed 1" in out


def test_generate_events_in_parallel_commits_every_chunk(committed, capsys):
    acme = make_tenant("acme")
    globex = make_tenant("globex")
    out = run_json(capsys, "generate_events", "--project", "proj_acme", "--sessions", "200")
    assert out["events"] > 1000  # several chunks, written by the worker threads
    assert counts(acme) == (out["inserted"], out["inserted"]) == (out["events"], out["events"])
    assert counts(globex) == (0, 0)


def test_generate_events_for_an_unknown_project_fails_in_one_line(db):
    with pytest.raises(CommandError, match="no project with public id 'proj_nope'"):
        call_command("generate_events", "--project", "proj_nope", "--sessions", "1")


@pytest.mark.parametrize(
    ("flag", "value"), [("--sessions", "0"), ("--days", "0"), ("--days", "100000")]
)
def test_generate_events_refuses_out_of_range_numbers(acme, flag, value):
    args = {"--sessions": "1", "--days": "7"} | {flag: value}
    with pytest.raises(CommandError, match=flag):
        call_command("generate_events", "--project", "proj_acme", *sum(args.items(), ()))


def test_generate_events_refuses_more_days_than_the_orgs_retention(acme):
    Organization.objects.filter(pk=acme.org.pk).update(retention_days=3)
    with pytest.raises(CommandError, match="--days 4 is beyond the organization's retention"):
        call_command("generate_events", "--project", "proj_acme", "--sessions", "1", "--days", "4")
    assert counts(acme) == (0, 0)


def test_a_number_out_of_range_is_a_usage_error_exit_2_in_one_line():
    from tests.conftest import manage_py

    done = manage_py("ensure_partitions", "--months-ahead", "200", "--json")
    assert done.returncode == 2
    message = (
        "argument --months-ahead: must be between 0 and 120, not 200 "
        "(see manage.py ensure_partitions --help)"
    )
    assert done.stderr.strip().splitlines() == [f"CommandError: {message}"]
    assert json.loads(done.stdout) == {"error": {"code": "command_error", "message": message}}


# --- import_events -----------------------------------------------------------------------


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


def test_import_events_into_acme_leaves_globex_empty(acme, globex, tmp_path, capsys):
    path = ndjson(tmp_path / "e.ndjson", event(event_id="e1"), event(event_id="e2"))
    run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    assert counts(acme) == (2, 2)
    assert counts(globex) == (0, 0)


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


# --- purge_events ------------------------------------------------------------------------


def seed_old_and_new(tenant: Tenant, tmp_path: Path, capsys) -> None:
    """Import events 120, 60 and 5 days old, as while the org kept a year of them (imports
    refuse what the org's retention would purge)."""
    org = Organization.objects.filter(pk=tenant.org.pk)
    kept = org.get().retention_days
    org.update(retention_days=365)
    path = ndjson(
        tmp_path / f"{tenant.org.slug}.ndjson",
        event(event_id="old_1", event__timestamp=days_ago(120)),
        event(event_id="old_2", event__timestamp=days_ago(60)),
        event(event_id="new_1", event__timestamp=days_ago(5)),
    )
    out = run_json(capsys, "import_events", "--project", tenant.project.public_id, str(path))
    assert out["accepted"] == 3, out
    org.update(retention_days=kept)


def test_purge_events_for_acme_only_leaves_globex_old_events(acme, globex, tmp_path, capsys):
    seed_old_and_new(acme, tmp_path, capsys)
    seed_old_and_new(globex, tmp_path, capsys)
    out = run_json(capsys, "purge_events", "--org", "acme", "--older-than", "30")
    assert [(r["org"], r["days"], r["events"], r["keys"]) for r in out["orgs"]] == [
        ("acme", 30, 2, 2)
    ]
    assert (out["events"], out["keys"]) == (2, 2)
    assert counts(acme) == (1, 1)
    assert counts(globex) == (3, 3)


def test_purge_events_uses_each_orgs_retention_by_default(acme, globex, tmp_path, capsys):
    Organization.objects.filter(pk=acme.org.pk).update(retention_days=30)
    seed_old_and_new(acme, tmp_path, capsys)
    seed_old_and_new(globex, tmp_path, capsys)  # retention 90: only the 120-day-old goes
    out = run_json(capsys, "purge_events")
    assert {r["org"]: (r["days"], r["events"]) for r in out["orgs"]} == {
        "acme": (30, 2),
        "globex": (90, 1),
    }
    assert counts(acme) == (1, 1) and counts(globex) == (2, 2)


def test_purge_events_prints_one_line_per_org(acme, globex, capsys):
    call_command("purge_events")
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["acme", "globex"]
    assert "0 events and 0 keys older than 90 days" in out[0]


def test_purge_events_for_an_unknown_org_fails_in_one_line(db):
    with pytest.raises(CommandError, match="no organization with slug 'nope'"):
        call_command("purge_events", "--org", "nope")


def test_purge_events_refuses_zero_days(db):
    with pytest.raises(CommandError, match="--older-than"):
        call_command("purge_events", "--older-than", "0")


# --- ensure_partitions -------------------------------------------------------------------


def partition_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"public.{name}"])
        return cursor.fetchone()[0]


def test_ensure_partitions_is_idempotent_and_keeps_the_rls_invariants(db, capsys):
    months = partition_months(now=timezone.now(), months_back=1, months_ahead=3)
    expected = [f"ingestion_event_{month:%Y%m}" for month in months]
    first = run_json(capsys, "ensure_partitions")
    again = run_json(capsys, "ensure_partitions")
    assert first["partitions"] == again["partitions"] == expected
    assert set(first["created"]) <= set(expected)
    assert again["created"] == []
    assert all(partition_exists(name) for name in expected)
    assert run_json(capsys, "check_rls") == {"ok": True, "breaches": []}


def test_a_month_already_in_the_default_partition_stays_there(acme, tmp_path, capsys, monkeypatch):
    # A process that believes 1999-01's partition exists (an operator dropped it since)
    # writes that month into the default partition; later writes of the month still work.
    from datetime import date

    from ingestion import writer

    Organization.objects.filter(pk=acme.org.pk).update(retention_days=MAX_RETENTION_DAYS)
    monkeypatch.setattr(writer, "_known_partitions", {date(1999, 1, 1)})
    old = event(event_id="old-1", event__timestamp="1999-01-15T10:00:00Z")
    path = ndjson(tmp_path / "a.ndjson", old)
    assert run_json(capsys, "import_events", "--project", "proj_acme", str(path))["accepted"] == 1
    assert not partition_exists("ingestion_event_199901")
    monkeypatch.setattr(writer, "_known_partitions", set())  # a process that knows nothing
    again = event(event_id="old-2", event__timestamp="1999-01-16T10:00:00Z")
    path = ndjson(tmp_path / "b.ndjson", again)
    assert run_json(capsys, "import_events", "--project", "proj_acme", str(path))["accepted"] == 1
    assert not partition_exists("ingestion_event_199901")
    with transaction.atomic(), org_context(acme.org.pk), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ingestion_event_default")
        assert cursor.fetchone()[0] == 2
    assert counts(acme) == (2, 2)


def test_ensure_partitions_takes_months_back_and_ahead(db, capsys):
    out = run_json(capsys, "ensure_partitions", "--months-back", "3", "--months-ahead", "0")
    months = partition_months(now=timezone.now(), months_back=3, months_ahead=0)
    assert out["partitions"] == [f"ingestion_event_{month:%Y%m}" for month in months]
    call_command("ensure_partitions", "--months-back", "3", "--months-ahead", "0")
    assert "created: none" in capsys.readouterr().out


def test_a_partition_made_ahead_isolates_orgs(acme, globex, tmp_path, capsys):
    ahead = run_json(capsys, "ensure_partitions", "--months-back", "0", "--months-ahead", "0")
    path = ndjson(tmp_path / "e.ndjson", event(event_id="now", event__timestamp=days_ago(0)))
    run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    partition = ahead["partitions"][0]
    with transaction.atomic(), org_context(globex.org.pk), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partition}")  # noqa: S608 -- a name we made
        assert cursor.fetchone()[0] == 0
    with transaction.atomic(), org_context(acme.org.pk), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partition}")  # noqa: S608 -- a name we made
        assert cursor.fetchone()[0] == 1


@pytest.mark.parametrize("flag", ["--months-ahead", "--months-back"])
def test_ensure_partitions_refuses_negative_months(db, flag):
    with pytest.raises(CommandError, match=flag):
        call_command("ensure_partitions", flag, "-1")


def test_ensure_partitions_task_returns_only_the_partitions_it_created(db):
    ensure_partitions_task()
    assert ensure_partitions_task() == []


# --- the loop the bulk commands share ----------------------------------------------------


def test_a_failing_ingest_process_is_reported_and_the_others_stop(committed):
    acme = make_tenant("acme")

    def shard_chunks(shard: int) -> Iterator[Chunk]:
        if shard == 1:
            raise ValueError("boom")
        yield Chunk(events=[event(event_id="e1")])

    with pytest.raises(IngestProcessError, match="ValueError: boom"):
        shards_ingest(project=acme.project, shard_chunks=shard_chunks, shards=2)


def test_an_ingest_process_that_dies_is_reported(committed):
    acme = make_tenant("acme")

    def shard_chunks(shard: int) -> Iterator[Chunk]:
        if shard == 0:
            os._exit(3)  # as if killed: no report at all
        yield Chunk(events=[event(event_id="e1")])

    with pytest.raises(IngestProcessError, match="died without reporting"):
        shards_ingest(project=acme.project, shard_chunks=shard_chunks, shards=2)


def test_shards_run_in_processes_add_up(committed) -> None:
    acme = make_tenant("acme")
    seen: list[tuple[int, int]] = []

    def shard_chunks(shard: int) -> Iterator[Chunk]:
        yield Chunk(events=[event(event_id=f"e{shard}"), event(event_id="shared")], sessions=1)

    report = shards_ingest(
        project=acme.project,
        shard_chunks=shard_chunks,
        shards=3,
        on_progress=lambda sessions, events: seen.append((sessions, events)),
    )
    assert (report.accepted, report.duplicates, report.inserted) == (6, 2, 4)
    assert seen == [(1, 2)] * 3
    assert counts(acme) == (4, 4)
