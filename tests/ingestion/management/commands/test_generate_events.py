"""`manage.py generate_events`: demo events in the project's org only, spread over days,
deterministic by seed, in parallel; progress bars (generate and import)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from ingestion.models import Event
from orgs.models import Organization
from productgraph.tenancy.context import org_context
from tests.conftest import make_tenant, run_json
from tests.ingestion.helpers import counts, event, ndjson


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
