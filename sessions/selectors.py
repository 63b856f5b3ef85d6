"""Reads of sessions."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from ingestion.models import Event
from sessions.models import Session


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
