"""Reads of sessions, and of the events a fold needs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import connection

from ingestion.models import Event
from ingestion.selectors import epoch_us, from_epoch_us
from sessions.models import Session
from sessions.sessionization import EventFacts


def sessions_stale(*, org_id: int, project_id: int, since: datetime) -> list[str]:
    """Sessions with events received since `since` that their row does not reflect yet."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT e.session_id
            FROM {Event._meta.db_table} e
            LEFT JOIN {Session._meta.db_table} s
              ON s.project_id = e.project_id AND s.session_id = e.session_id
            WHERE e.org_id = %s AND e.project_id = %s AND e.received_at >= %s
            GROUP BY e.session_id, s.aggregated_at
            HAVING s.aggregated_at IS NULL OR max(e.received_at) > s.aggregated_at
            """,  # noqa: S608 - table names from model metadata
            [org_id, project_id, since],
        )
        return [row[0] for row in cursor.fetchall()]


def session_get(*, org_id: int, project_id: int, session_id: str) -> Session | None:
    """Return one session of a project, or None."""
    return Session.objects.filter(
        org_id=org_id, project_id=project_id, session_id=session_id
    ).first()


_SESSION_EVENTS = f"""
SELECT session_id, id, {epoch_us("timestamp")}, event_type, sequence, page_path,
       page_referrer, user_id, anonymous_id, user_agent, {epoch_us("received_at")}
FROM ingestion_event
WHERE org_id = %s AND project_id = %s AND session_id = ANY(%s)
"""  # noqa: S608 - constant column names


def session_events(
    *, org_id: int, project_id: int, session_ids: Sequence[str]
) -> tuple[dict[str, list[EventFacts]], dict[str, datetime]]:
    """Return each session's events and the latest received_at among them."""
    events: dict[str, list[EventFacts]] = {}
    received: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(_SESSION_EVENTS, [org_id, project_id, list(session_ids)])
        for session_id, row_id, timestamp, *facts, received_at in cursor.fetchall():
            events.setdefault(session_id, []).append(
                EventFacts(row_id, from_epoch_us(timestamp), *facts)
            )
            if received_at > received.get(session_id, -1):
                received[session_id] = received_at
    return events, {session_id: from_epoch_us(us) for session_id, us in received.items()}
