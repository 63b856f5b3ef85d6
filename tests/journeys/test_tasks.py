"""The journeys task (journeys/tasks.py): the beat's refresh of an org's journeys."""

from __future__ import annotations

from django.core.management import call_command
from django.db import transaction

from journeys.models import Journey
from journeys.services import journey_update
from journeys.tasks import refresh_org
from productgraph.tenancy.context import org_context
from tests.journeys.helpers import STEPS, live_cart_visit, make_journey, rows, visit


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
