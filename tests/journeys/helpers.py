"""Shared helpers of the journeys tests: a checkout journey, visits, its rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.management import call_command
from django.db import transaction

from journeys.models import Journey, SessionJourney
from journeys.services import journey_create
from productgraph.tenancy.context import org_context
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
    """Create the tenant's `checkout` journey: /cart, then /pay."""
    with transaction.atomic(), org_context(tenant.org.pk):
        return journey_create(project=tenant.project, key="checkout", name="Checkout", steps=STEPS)


def visit(client, tenant, session, *paths):
    """Post one page view per path, a minute apart from RECENT, in one session."""
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
    """The tenant's session-journey rows by session id."""
    with transaction.atomic(), org_context(tenant.org.pk):
        return {r.session_id: r for r in SessionJourney.objects.filter(org_id=tenant.org.pk)}


def live_cart_visit(client, tenant) -> datetime:
    """A session `live` that reached the cart just now, folded: pending in the journey."""
    now = datetime.now(tz=UTC)
    item = event(event_id="live-0", page__path="/cart", event__timestamp=now.isoformat())
    item["session.id"] = "live"
    post(client, tenant.ingest_key, {"events": [item]})
    call_command("aggregate_sessions")
    assert rows(tenant)["live"].status == "pending"  # the session is still active
    return now


def step(step_id, path, optional=False):
    """A journey step matching one page path."""
    return {
        "id": step_id,
        "name": step_id.title(),
        "match": [{"field": "page.path", "op": "eq", "value": path}],
        "optional": optional,
    }
