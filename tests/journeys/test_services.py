"""Journey services (journeys/services.py): matching folded sessions, metrics, refreshes,
and the write path (journey_create / journey_update / journey_deactivate)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import transaction

from journeys.conditions import DefinitionError
from journeys.models import Journey, SessionJourney
from journeys.services import journey_create, journey_deactivate, journey_update
from journeys.tasks import refresh_org
from productgraph.tenancy.context import org_context
from tests.journeys.helpers import STEPS, make_journey, rows, visit


def test_sessions_are_matched_and_metrics_computed(client, acme, capsys):
    make_journey(acme)
    visit(client, acme, "converts", "/home", "/cart", "/pay")  # 1 minute to convert
    visit(client, acme, "slower", "/cart", "/home", "/pay")  # 2 minutes
    visit(client, acme, "slowest", "/cart", "/a", "/b", "/c", "/pay")  # 4 minutes
    visit(client, acme, "bounces", "/cart", "/home")
    visit(client, acme, "never", "/home")
    call_command("aggregate_sessions")
    capsys.readouterr()
    statuses = {sid: r.status for sid, r in rows(acme).items()}
    assert statuses == {
        "converts": "converted",
        "slower": "converted",
        "slowest": "converted",
        "bounces": "bounced",
    }
    call_command("refresh_journeys", "--org", "acme", "--json")
    assert json.loads(capsys.readouterr().out)["rows"] == 4
    with transaction.atomic(), org_context(acme.org.pk):
        metrics = Journey.objects.get(key="checkout").metrics
    assert metrics["total_sessions"] == 4 and metrics["converted"] == 3
    assert metrics["conversion_rate"] == 0.75
    assert (metrics["avg_duration_ms"], metrics["median_duration_ms"]) == (140_000, 120_000)
    assert [(s["id"], s["reached"], s["drop_off"]) for s in metrics["steps"]] == [
        ("cart", 4, 0),
        ("pay", 3, 1),
    ]


def test_a_save_committed_while_a_refresh_runs_is_rematched_by_the_next_one(
    client, acme, monkeypatch
):
    visit(client, acme, "converts", "/cart", "/pay")
    call_command("aggregate_sessions")
    journey = make_journey(acme)
    from journeys import services

    match = services.journeys_match_sessions

    def match_then_save(**kwargs):
        written = match(**kwargs)
        with org_context(acme.org.pk):  # an admin saves a new definition meanwhile
            journey_update(journey=Journey.objects.get(pk=journey.pk), name="Renamed")
        return written

    monkeypatch.setattr(services, "journeys_match_sessions", match_then_save)
    refresh_org.run(acme.org.pk)
    monkeypatch.undo()
    assert refresh_org.run(acme.org.pk) == 1, "the save made during the refresh is re-matched"
    assert refresh_org.run(acme.org.pk) == 0


def test_only_definition_updates_bump_the_version(acme):
    journey = make_journey(acme)
    with transaction.atomic(), org_context(acme.org.pk):
        assert journey.definition_version == 1
        journey.save(update_fields=["metrics", "metrics_refreshed_at"])  # a refresh's write
        assert Journey.objects.get(pk=journey.pk).definition_version == 1
        journey_update(journey=journey, name="Renamed")
        journey_deactivate(journey=journey)
        assert journey.definition_version == 3
        assert Journey.objects.get(pk=journey.pk).definition_version == 3


def test_an_update_with_an_invalid_definition_changes_nothing(acme):
    journey = make_journey(acme)
    with transaction.atomic(), org_context(acme.org.pk), pytest.raises(DefinitionError):
        journey_update(journey=journey, steps=[])
    with transaction.atomic(), org_context(acme.org.pk):
        stored = Journey.objects.get(pk=journey.pk)
    assert (stored.steps, stored.definition_version) == (STEPS, 1)


def test_matching_only_the_events_a_journey_can_use_equals_matching_all_of_them(acme, capsys):
    """The fold reads only events some condition matches; the answer is the one over all."""

    from bench.database import JOURNEYS, journey_steps
    from ingestion.selectors import session_event_dicts
    from journeys.matching import match_session
    from journeys.services import definition_of
    from sessions.models import Session

    with transaction.atomic(), org_context(acme.org.pk):
        journeys = [
            journey_create(project=acme.project, key=key, name=name, steps=journey_steps(steps))
            for key, name, steps in JOURNEYS
        ]
        journeys.append(  # an entry, an exit and a tag-matched step
            journey_create(
                project=acme.project,
                key="tagged",
                name="Tagged",
                entry=[{"field": "event.type", "op": "eq", "value": "page.view"}],
                exit=[{"field": "event.type", "op": "eq", "value": "error"}],
                steps=[
                    {
                        "id": "signup",
                        "match": [{"field": "ui.action", "op": "eq", "value": "submit"}],
                    }
                ],
            )
        )
    call_command(
        "generate_events", "--project", acme.project.public_id, "--sessions", "150", "--days", "2"
    )
    call_command("aggregate_sessions")
    capsys.readouterr()
    with transaction.atomic(), org_context(acme.org.pk):
        sessions = {s.session_id: s for s in Session.objects.filter(project=acme.project)}
        events = session_event_dicts(
            org_id=acme.org.pk, project_id=acme.project.pk, session_ids=list(sessions)
        )
        stored = {
            (r.journey_id, r.session_id): (r.status, r.last_step_index, r.duration_ms)
            for r in SessionJourney.objects.filter(project=acme.project)
        }
    expected = {}
    for journey in journeys:
        definition = definition_of(journey)
        for session_id, session in sessions.items():
            found = match_session(definition, events[session_id], session_active=session.is_active)
            if found is not None:
                expected[(journey.pk, session_id)] = (
                    found.status,
                    found.last_step_index,
                    found.duration_ms,
                )
    assert len(expected) > 100 and {status for status, _, _ in expected.values()} >= {
        "converted",
        "bounced",
    }
    assert stored == expected


def test_a_refresh_leaves_unchanged_rows_unwritten(client, acme, capsys):
    make_journey(acme)
    visit(client, acme, "converts", "/home", "/cart", "/pay")
    visit(client, acme, "bounces", "/cart", "/home")
    call_command("aggregate_sessions")
    before = {sid: (r.status, r.updated_at) for sid, r in rows(acme).items()}
    call_command("refresh_journeys", "--org", "acme", "--json")
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["rows"] == 2
    assert {sid: (r.status, r.updated_at) for sid, r in rows(acme).items()} == before
