"""Session aggregation: fold sessions from their events, close idle ones, prune orphans.

Which sessions wait to be folded is the work queue's (`fold_queue.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from operator import attrgetter

from django.db import connection
from django.utils import timezone

from ingestion.models import Event
from orgs.models import Project
from productgraph.metrics import fold_observed
from sessions.fold_queue import session_shard
from sessions.models import Session
from sessions.selectors import session_events
from sessions.sessionization import SessionFacts, fold_session
from sessions.signals import sessions_closed, sessions_folded, sessions_pruned

logger = logging.getLogger(__name__)

FOLD_BATCH = 500  # sessions per fold (one transaction's worth)
_LOCK_NAMESPACE = 0x5E55  # first key of the per-shard advisory lock is this + the shard


_COLUMNS = [field.name for field in fields(SessionFacts)]
# dataclasses.astuple deep-copies every value: 10 % of a fold, measured.
_FACT_VALUES = attrgetter(*_COLUMNS)
_UPSERT = f"""
INSERT INTO {Session._meta.db_table}
    (org_id, project_id, session_id, aggregated_at, {", ".join(_COLUMNS)})
VALUES (%s, %s, %s, %s, {", ".join(["%s"] * len(_COLUMNS))})
ON CONFLICT (project_id, session_id) DO UPDATE SET
    aggregated_at = EXCLUDED.aggregated_at,
    {", ".join(f"{column} = EXCLUDED.{column}" for column in _COLUMNS)}
"""  # noqa: S608 - column names from the dataclass, table from model metadata


def sessions_fold(
    *, org_id: int, project_id: int, session_ids: Sequence[str], now: datetime | None = None
) -> int:
    """Recompute these sessions of a project from all their events; return rows written.

    Runs in the caller's transaction and org context. A per-project advisory lock makes
    concurrent or duplicate folds queue up, so they converge on the same rows.
    """
    if not session_ids:
        return 0
    now = now or timezone.now()
    project = Project.objects.get(org_id=org_id, pk=project_id)
    timeout = timedelta(minutes=project.session_timeout_minutes)
    with connection.cursor() as cursor:
        for shard in sorted(set(map(session_shard, session_ids))):  # one order: no deadlock
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE + shard, project_id]
            )
        # The fold looks sessions up by (project, session_id); on a partition that grew
        # since its last ANALYZE the planner took 500 ids for most of the table and read
        # all of it (96 % of the rows a fold read came from sequential scans, measured).
        cursor.execute(
            "SELECT current_setting('enable_seqscan'), set_config('enable_seqscan', 'off', true)"
        )
        (seqscan,) = cursor.fetchone()[:1]
        events, received = session_events(
            org_id=org_id, project_id=project_id, session_ids=session_ids
        )
        rows = [
            (
                org_id,
                project_id,
                session_id,
                received[session_id],
                *_FACT_VALUES(fold_session(session_events_, timeout=timeout, now=now)),
            )
            for session_id, session_events_ in sorted(events.items())
        ]
        if rows:
            cursor.executemany(_UPSERT, rows)
        if rows:  # sessions hand off to journeys (their receiver), in the same transaction
            sessions_folded.send(
                sender=Session,
                org_id=org_id,
                project_id=project_id,
                session_ids=[row[2] for row in rows],
            )
        gone = sorted(set(session_ids) - set(events))
        if gone:  # every event purged: the session goes too
            Session.objects.filter(
                org_id=org_id, project_id=project_id, session_id__in=gone
            ).delete()
        cursor.execute("SELECT set_config('enable_seqscan', %s, true)", [seqscan])
    fold_observed(sessions=len(rows), events=sum(len(found) for found in events.values()))
    return len(rows)


def sessions_prune_orphans(*, org_id: int) -> int:
    """Delete the org's sessions none of whose events remain (retention); apps downstream
    drop their rows of them on `sessions_pruned`."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            DELETE FROM {Session._meta.db_table} s
            WHERE s.org_id = %s AND NOT EXISTS (
                SELECT 1 FROM {Event._meta.db_table} e
                WHERE e.org_id = s.org_id AND e.project_id = s.project_id
                  AND e.session_id = s.session_id)
            """,  # noqa: S608 - table names from model metadata
            [org_id],
        )
        deleted = cursor.rowcount
    sessions_pruned.send(sender=Session, org_id=org_id)
    return deleted


def sessions_close_idle(*, org_id: int, now: datetime | None = None) -> int:
    """End every active session of the org idle longer than its project's timeout, and
    tell the apps downstream (`sessions_closed`, per project: journeys re-match the ones
    still `pending` at once, not at the next journey refresh)."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Session._meta.db_table} s SET ended_at = s.last_event_at
            FROM {Project._meta.db_table} p
            WHERE p.id = s.project_id AND s.org_id = %s AND s.ended_at IS NULL
              AND s.last_event_at < %s - make_interval(mins => p.session_timeout_minutes)
            RETURNING s.project_id, s.session_id
            """,  # noqa: S608 - table names from model metadata
            [org_id, now],
        )
        closed = cursor.fetchall()
    by_project: dict[int, list[str]] = {}
    for project_id, session_id in closed:
        by_project.setdefault(project_id, []).append(session_id)
    for project_id, session_ids in by_project.items():
        sessions_closed.send(
            sender=Session, org_id=org_id, project_id=project_id, session_ids=session_ids
        )
    return len(closed)
