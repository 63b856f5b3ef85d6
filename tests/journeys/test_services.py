"""Journeys end to end: events → sessions → session-journeys → metrics, admin, command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction

from journeys.conditions import DefinitionError
from journeys.models import Journey, SessionJourney
from journeys.services import journey_create, journey_deactivate, journey_update
from journeys.tasks import refresh_org
from productgraph.tenancy.context import org_context
from sessions.services import sessions_close_idle
from tests.ingestion.helpers import RECENT, event, post

STEPS = [
    {"id": "cart", "name": "Cart", "match": [{"field": "page.path", "op": "eq", "value": "/cart"}]},
    {
        "id": "pay",
        "name": "Payment",
        "match": [{"field": "page.path", "op": "eq", "value": "/pay"}],
    },
]


def make_journey(tenant) -> Journey:
    with transaction.atomic(), org_context(tenant.org.pk):
        return journey_create(project=tenant.project, key="checkout", name="Checkout", steps=STEPS)


def visit(client, tenant, session, *paths):
    batch = []
    for minute, path in enumerate(paths):
        item = event(
            event_id=f"{session}-{minute}",
            page__path=path,
            event__timestamp=(RECENT + timedelta(minutes=minute)).isoformat(),
        )
        item["session.id"] = session
        batch.append(item)
    post(client, tenant.ingest_key, {"events": batch})


def rows(tenant) -> dict[str, SessionJourney]:
    with transaction.atomic(), org_context(tenant.org.pk):
        return {r.session_id: r for r in SessionJourney.objects.filter(org_id=tenant.org.pk)}


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


def live_cart_visit(client, tenant) -> datetime:
    """A session `live` that reached the cart just now, folded: pending in the journey."""
    now = datetime.now(tz=UTC)
    item = event(event_id="live-0", page__path="/cart", event__timestamp=now.isoformat())
    item["session.id"] = "live"
    post(client, tenant.ingest_key, {"events": [item]})
    call_command("aggregate_sessions")
    assert rows(tenant)["live"].status == "pending"  # the session is still active
    return now


def test_closing_an_idle_session_ends_its_pending_journeys_at_once(client, acme, capsys):
    make_journey(acme)
    now = live_cart_visit(client, acme)
    capsys.readouterr()
    with transaction.atomic(), org_context(acme.org.pk):
        closed = sessions_close_idle(org_id=acme.org.pk, now=now + timedelta(minutes=31))
    assert closed == 1
    assert rows(acme)["live"].status == "bounced"  # not at the next refresh, minutes later


def test_beat_refreshes_every_5_minutes_the_pending_rows_and_the_metrics(client, acme, settings):
    assert settings.CELERY_BEAT_SCHEDULE["journeys-refresh"]["schedule"] == 300.0
    assert settings.CELERY_BEAT_SCHEDULE["journeys-refresh"]["args"] == ["journeys.refresh_org"]
    make_journey(acme)
    live_cart_visit(client, acme)
    assert refresh_org.run(acme.org.pk) == 1  # the pending row, re-matched
    with transaction.atomic(), org_context(acme.org.pk):
        journey = Journey.objects.get(key="checkout")
    assert journey.metrics_refreshed_at is not None
    assert journey.metrics["total_sessions"] == 1
    assert journey.metrics["by_status"]["pending"] == 1


def test_beat_rematches_every_session_after_a_journey_is_created_or_changed(client, acme):
    visit(client, acme, "converts", "/cart", "/pay")
    visit(client, acme, "bounces", "/cart", "/home")
    call_command("aggregate_sessions")
    journey = make_journey(acme)  # after the sessions: nothing matched them yet
    assert rows(acme) == {}
    assert refresh_org.run(acme.org.pk) == 2  # every session, at the next beat
    assert {sid: r.status for sid, r in rows(acme).items()} == {
        "converts": "converted",
        "bounces": "bounced",
    }
    assert refresh_org.run(acme.org.pk) == 0  # unchanged since: the pending rows only
    home = {
        "id": "home",
        "name": "Home",
        "match": [{"field": "page.path", "op": "eq", "value": "/home"}],
    }
    with transaction.atomic(), org_context(acme.org.pk):
        journey_update(journey=journey, steps=[STEPS[0], home])
    refresh_org.run(acme.org.pk)
    after = rows(acme)
    assert {sid: r.status for sid, r in after.items()} == {
        "converts": "bounced",
        "bounces": "converted",
    }
    assert after["bounces"].last_step_id == "home"
    with transaction.atomic(), org_context(acme.org.pk):
        metrics = Journey.objects.get(pk=journey.pk).metrics
    assert [(step["id"], step["reached"]) for step in metrics["steps"]] == [
        ("cart", 2),
        ("home", 1),
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


def test_journeys_of_acme_never_see_globex_sessions(client, acme, globex):
    make_journey(acme)
    visit(client, globex, "g", "/cart", "/pay")
    call_command("aggregate_sessions")
    call_command("refresh_journeys")
    assert rows(acme) == {} and rows(globex) == {}


@pytest.fixture
def staff_client(client, db):
    staff = get_user_model().objects.create_superuser("staff", "s@example.com", "pw")
    client.force_login(staff)
    return client


def test_admin_shows_a_funnel_chart_and_rejects_bad_definitions(staff_client, client, acme):
    journey = make_journey(acme)
    visit(client, acme, "converts", "/cart", "/pay")
    call_command("aggregate_sessions")
    call_command("refresh_journeys")
    staff_client.post("/admin/switch-org/", {"org_id": acme.org.pk})
    page = staff_client.get(f"/admin/journeys/journey/{journey.pk}/change/").content.decode()
    assert '<svg id="journey-funnel"' in page and "<rect" in page
    metrics = page.split('<table id="journey-metrics">', 1)[1].split("</table>", 1)[0]
    assert "<th>converted</th><td>1</td>" in metrics and "<th>sessions</th><td>1</td>" in metrics
    bad = staff_client.post(
        "/admin/journeys/journey/add/",
        {
            "project": acme.project.pk,
            "key": "broken",
            "name": "Broken",
            "entry": "[]",
            "steps": json.dumps([{"id": "a", "match": [{"field": "page.path", "op": "like"}]}]),
            "exit": "[]",
            "timeout_minutes": 30,
            "is_active": "on",
        },
    )
    assert bad.status_code == 200
    assert "unknown op &#x27;like&#x27;" in bad.content.decode()
    with transaction.atomic(), org_context(acme.org.pk):
        assert not Journey.objects.filter(key="broken").exists()
    # Editing keeps the key and the project (read-only once created) and still validates.
    edited = staff_client.post(
        f"/admin/journeys/journey/{journey.pk}/change/",
        {
            "key": "renamed",
            "name": "Checkout 2",
            "entry": "[]",
            "steps": json.dumps(STEPS),
            "exit": "[]",
            "timeout_minutes": 45,
            "is_active": "on",
        },
    )
    assert edited.status_code == 302, edited.content.decode()[:2000]
    with transaction.atomic(), org_context(acme.org.pk):
        journey.refresh_from_db()
    assert (journey.key, journey.name, journey.timeout_minutes) == ("checkout", "Checkout 2", 45)
    assert journey.project_id == acme.project.pk
    assert journey.definition_version == 2, "the admin writes through journey_update"
    added = staff_client.post(
        "/admin/journeys/journey/add/",
        {"project": acme.project.pk, "key": "again", "name": "Again", "entry": "",
         "steps": json.dumps(STEPS), "exit": "", "timeout_minutes": 30, "is_active": "on"},
    )  # fmt: skip
    assert added.status_code == 302, added.content.decode()[:2000]
    with transaction.atomic(), org_context(acme.org.pk):
        again = Journey.objects.get(key="again")
    assert (again.org_id, again.entry, again.exit) == (acme.org.pk, [], [])


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
