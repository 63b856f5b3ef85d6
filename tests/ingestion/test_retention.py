"""Per-org retention: old events and their keys go, new ones and other orgs' stay."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from ingestion.models import Event, EventKey
from ingestion.retention import events_purge, retention_cutoff
from ingestion.services import IngestResult, events_ingest
from ingestion.validation import Project
from orgs.models import MAX_RETENTION_DAYS
from productgraph.tenancy.context import org_context
from tests.conftest import Tenant
from tests.ingestion.helpers import event


def ingest(tenant: Tenant, *events: dict) -> IngestResult:
    """Store events for `tenant` through the write path, in its org context, as stored
    while the org kept events as long as allowed (ingestion refuses what its retention
    would purge; here the purge is given its cut-off explicitly)."""
    with transaction.atomic(), org_context(tenant.org.pk):
        return events_ingest(
            org_id=tenant.org.pk,
            project_id=tenant.project.pk,
            project=Project(public_id=tenant.project.public_id, slug=tenant.project.slug),
            events=list(events),
            received_at=timezone.now(),
            retention_days=MAX_RETENTION_DAYS,
            user_agent=None,
        )


def days_ago(days: float) -> str:
    return (timezone.now() - timedelta(days=days)).isoformat()


def stored_ids(tenant: Tenant) -> tuple[set[str], set[str]]:
    """Return the event ids of the tenant's stored events and of its keys."""
    with transaction.atomic(), org_context(tenant.org.pk):
        events = set(Event.objects.filter(org_id=tenant.org.pk).values_list("event_id", flat=True))
        keys = set(EventKey.objects.filter(org_id=tenant.org.pk).values_list("event_id", flat=True))
    return events, keys


def old_and_new(tenant: Tenant) -> None:
    ingest(
        tenant,
        event(event_id="old_1", event__timestamp=days_ago(100)),
        event(event_id="old_2", event__timestamp=days_ago(40)),
        event(event_id="new_1", event__timestamp=days_ago(10)),
        event(event_id="new_2", event__timestamp=days_ago(0.01)),
    )


def test_purge_deletes_old_events_and_their_keys_and_keeps_newer_ones(acme):
    old_and_new(acme)
    result = events_purge(org_id=acme.org.pk, cutoff=timezone.now() - timedelta(days=30))
    assert (result.events, result.keys) == (2, 2)
    assert stored_ids(acme) == ({"new_1", "new_2"}, {"new_1", "new_2"})


def test_purging_acme_leaves_globex_old_events_untouched(acme, globex):
    old_and_new(acme)
    old_and_new(globex)
    events_purge(org_id=acme.org.pk, cutoff=timezone.now() - timedelta(days=30))
    everything = {"old_1", "old_2", "new_1", "new_2"}
    assert stored_ids(globex) == (everything, everything)


def test_purge_works_in_batches(acme):
    ingest(
        acme, *(event(event_id=f"old_{i}", event__timestamp=days_ago(50 + i)) for i in range(11))
    )
    result = events_purge(org_id=acme.org.pk, cutoff=timezone.now(), batch_size=3)
    assert (result.events, result.keys) == (11, 11)
    assert stored_ids(acme) == (set(), set())


def test_purge_removes_old_keys_whose_event_is_already_gone(acme):
    with transaction.atomic(), org_context(acme.org.pk):
        EventKey.objects.create(
            org_id=acme.org.pk,
            project=acme.project,
            event_id="orphan",
            timestamp=timezone.now() - timedelta(days=200),
        )
    result = events_purge(org_id=acme.org.pk, cutoff=timezone.now() - timedelta(days=30))
    assert (result.events, result.keys) == (0, 1)


def test_an_event_resent_after_its_purge_is_stored_again(acme):
    old = event(event_id="old_1", event__timestamp=days_ago(100))
    ingest(acme, old)
    events_purge(org_id=acme.org.pk, cutoff=timezone.now() - timedelta(days=30))
    assert ingest(acme, old).duplicates == 0


def test_purge_without_old_events_deletes_nothing(acme):
    ingest(acme, event(event_id="new_1", event__timestamp=days_ago(1)))
    result = events_purge(org_id=acme.org.pk, cutoff=timezone.now() - timedelta(days=30))
    assert (result.events, result.keys) == (0, 0)


def test_retention_cutoff_is_days_before_now():
    now = datetime(2026, 11, 20, tzinfo=timezone.get_fixed_timezone(0))
    assert retention_cutoff(now=now, days=90) == now - timedelta(days=90)
    with pytest.raises(ValueError):
        retention_cutoff(now=now, days=-1)


def test_purge_removes_sessions_left_without_events(acme, globex):
    from sessions.models import Session
    from sessions.services import sessions_fold

    old = event(event_id="old", event__timestamp=days_ago(200))
    old["session.id"] = "old-session"
    ingest(acme, old, event(event_id="new", event__timestamp=days_ago(1)))
    ingest(globex, dict(old))
    for tenant in (acme, globex):
        with transaction.atomic(), org_context(tenant.org.pk):
            sessions_fold(
                org_id=tenant.org.pk,
                project_id=tenant.project.pk,
                session_ids=["old-session", "sess_001"],
            )
    events_purge(org_id=acme.org.pk, cutoff=timezone.now() - timedelta(days=90))
    with transaction.atomic(), org_context(acme.org.pk):
        assert set(Session.objects.values_list("session_id", flat=True)) == {"sess_001"}
    with transaction.atomic(), org_context(globex.org.pk):
        assert set(Session.objects.values_list("session_id", flat=True)) == {"old-session"}
