"""Shared helpers of the sessions tests: events posted for a session, folds, rows."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from productgraph.keyspace import redis_key
from productgraph.tenancy.context import org_context
from sessions import fold_queue, services
from sessions.models import Session
from tests.ingestion.helpers import RECENT, RECENT_TIMESTAMP, event, post

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def sessions_of(tenant) -> dict[str, Session]:
    """The tenant's session rows by session id (read in its org context)."""
    with transaction.atomic(), org_context(tenant.org.pk):
        return {s.session_id: s for s in Session.objects.filter(org_id=tenant.org.pk)}


def fold(tenant, *session_ids: str, now: datetime | None = None) -> int:
    """Fold these sessions of the tenant's project as the fold task does (at `now`, the
    clock's time unless given); rows written."""
    with transaction.atomic(), org_context(tenant.org.pk):
        return services.sessions_fold(
            org_id=tenant.org.pk,
            project_id=tenant.project.pk,
            session_ids=list(session_ids),
            now=now,
        )


def at(seconds: int) -> str:
    """A time `seconds` after RECENT (over an hour ago: its sessions are idle, ended)."""
    return (RECENT + timedelta(seconds=seconds)).isoformat()


def seed_events(client, tenant, **extra):
    """Post session sess_001: /home, /pricing 30 s later, an error 30 s after that."""
    batch = [
        event(event_id="1", page__path="/home", event__timestamp=at(0)),
        event(event_id="2", page__path="/pricing", event__timestamp=at(30)),
        event(event_id="3", event__type="error", event__timestamp=at(60)),
    ]
    return post(client, tenant.ingest_key, {"events": batch}, HTTP_USER_AGENT=CHROME, **extra)


def facts(tenant) -> dict[str, tuple]:
    """Every session's folded values (not when it was folded)."""
    skip = {"id", "aggregated_at"}
    return {
        session_id: tuple(
            getattr(session, field.attname)
            for field in Session._meta.concrete_fields
            if field.attname not in skip
        )
        for session_id, session in sessions_of(tenant).items()
    }


def seed_session(client, tenant, session_id):
    """Post two page views of one session, the later one first (/first, then /second)."""
    batch = [
        event(
            event_id=f"{session_id}-b",
            page__path="/second",
            event__timestamp=(RECENT + timedelta(minutes=1)).isoformat(),
        ),
        event(event_id=f"{session_id}-a", page__path="/first", event__timestamp=RECENT_TIMESTAMP),
    ]
    for item in batch:
        item["session.id"] = session_id
    post(client, tenant.ingest_key, {"events": batch})


def forget_marks() -> None:
    """Drop the fold queue's marks, holds and schedules left by earlier tests: ids restart
    between tests, so an earlier test's mark could name this test's project."""
    client = fold_queue.redis_client()
    stale = client.keys(redis_key("sessions", "*"))
    if stale:
        client.delete(*stale)
