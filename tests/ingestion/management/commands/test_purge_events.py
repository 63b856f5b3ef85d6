"""`manage.py purge_events`: an org or all, each org's retention, one line per org."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from orgs.models import Organization
from tests.conftest import run_json
from tests.ingestion.helpers import counts, seed_old_and_new


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
