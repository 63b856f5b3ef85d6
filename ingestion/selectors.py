"""Reads of stored events that other apps use (sessions, journeys)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import connection
from django.db.models import F

from ingestion.models import Event
from sessions.sessionization import EventFacts

_SESSION_EVENTS = """
SELECT session_id, id, timestamp, event_type, sequence, page_path, page_referrer,
       user_id, anonymous_id, user_agent, received_at
FROM ingestion_event
WHERE org_id = %s AND project_id = %s AND session_id = ANY(%s)
"""


def session_events(
    *, org_id: int, project_id: int, session_ids: Sequence[str]
) -> tuple[dict[str, list[EventFacts]], dict[str, datetime]]:
    """Return each session's events and the latest received_at among them."""
    events: dict[str, list[EventFacts]] = {}
    received: dict[str, datetime] = {}
    with connection.cursor() as cursor:
        cursor.execute(_SESSION_EVENTS, [org_id, project_id, list(session_ids)])
        for session_id, *facts, received_at in cursor.fetchall():
            events.setdefault(session_id, []).append(EventFacts(*facts))
            if session_id not in received or received_at > received[session_id]:
                received[session_id] = received_at
    return events, received


def sessions_with_events(
    *, org_id: int, project_id: int, since: datetime | None = None
) -> list[str]:
    """Every session id with events (at or after `since`, by event time) in a project."""
    query = "SELECT DISTINCT session_id FROM ingestion_event WHERE org_id = %s AND project_id = %s"
    params: list = [org_id, project_id]
    if since is not None:
        query += " AND timestamp >= %s"
        params.append(since)
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return [row[0] for row in cursor.fetchall()]


def session_event_rows(
    *, org_id: int, project_id: int, session_id: str, limit: int = 1000
) -> list[Event]:
    """A session's events in session order (timestamp, sequence, arrival), for display."""
    return list(
        Event.objects.filter(org_id=org_id, project_id=project_id, session_id=session_id)
        .order_by("timestamp", F("sequence").asc(nulls_last=True), "id")
        .only(
            "id",
            "timestamp",
            "sequence",
            "event_type",
            "event_name",
            "page_path",
            "ui_component_name",
            "event_id",
        )[:limit]
    )
