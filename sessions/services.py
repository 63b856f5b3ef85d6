"""Session aggregation: mark touched sessions, fold them from events, close idle ones."""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from operator import attrgetter

import redis
from celery import current_app
from django.conf import settings
from django.db import connection
from django.utils import timezone

from ingestion.models import Event
from orgs.models import Project
from productgraph.keyspace import redis_key
from productgraph.metrics import fold_observed
from sessions.models import Session
from sessions.selectors import session_events
from sessions.sessionization import SessionFacts, fold_session
from sessions.signals import sessions_closed, sessions_folded, sessions_pruned

logger = logging.getLogger(__name__)

FOLD_TASK = "sessions.fold_touched_sessions"
FOLD_DELAY_SECONDS = 1  # debounce: one fold per shard per second, not one per event
FOLD_BATCH = 500  # sessions per fold (one transaction's worth)
# A project's touched sessions are spread over this many shards (by a hash of the session
# id), each with its own marks, fold task and advisory lock: the worker's processes fold
# one project in parallel. With one shard, one project's folds ran one at a time and the
# two-process worker used 0.3 of a core while 300k events waited (docs/performance.md).
FOLD_SHARDS = 4
_SCHEDULED_TTL_SECONDS = 30
_LOCK_NAMESPACE = 0x5E55  # first key of the per-shard advisory lock is this + the shard
_client: redis.Redis | None = None
_WARNING_INTERVAL_SECONDS = 10
_last_warning = 0.0


def session_shard(session_id: str) -> int:
    """The fold shard of a session (stable across processes: CRC-32, not hash())."""
    return zlib.crc32(session_id.encode()) % FOLD_SHARDS


def touched_key(org_id: int, project_id: int, shard: int) -> str:
    """Return the Redis set holding a shard's sessions waiting to be folded."""
    return redis_key("sessions", "touched", org_id, project_id, shard)


def touched_keys(org_id: int, project_id: int) -> list[str]:
    """Every shard's set of a project's sessions waiting to be folded."""
    return [touched_key(org_id, project_id, shard) for shard in range(FOLD_SHARDS)]


def _scheduled_key(org_id: int, project_id: int, shard: int) -> str:
    return redis_key("sessions", "scheduled", org_id, project_id, shard)


def _by_shard(session_ids: Iterable[str]) -> dict[int, list[str]]:
    shards: dict[int, list[str]] = {}
    for session_id in session_ids:
        shards.setdefault(session_shard(session_id), []).append(session_id)
    return shards


def redis_client() -> redis.Redis:
    """The process's Redis client for session bookkeeping."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5
        )
    return _client


def sessions_schedule_fold(
    *, org_id: int, project_id: int, shard: int, countdown: float = FOLD_DELAY_SECONDS
) -> None:
    """Enqueue one fold of a shard's touched sessions unless one is already due.

    New marks wait `countdown` (the debounce); a fold that left a full batch behind passes
    0, so a backlog drains back to back (measured: 8.5k -> 12-16k events/s caught up).
    """
    if redis_client().set(
        _scheduled_key(org_id, project_id, shard), 1, nx=True, ex=_SCHEDULED_TTL_SECONDS
    ):
        _send_fold(org_id, project_id, shard, countdown)


def _send_fold(org_id: int, project_id: int, shard: int, countdown: float) -> None:
    current_app.send_task(FOLD_TASK, args=[org_id, project_id, shard], countdown=countdown)


def sessions_mark_touched(*, org_id: int, project_id: int, session_ids: Iterable[str]) -> None:
    """Record, after commit, which sessions new events touched, and schedule their folds.

    One Redis round trip for the marks and the 'fold scheduled' flags of every shard. If
    Redis is down the marks are lost, never the events: the periodic sweep refolds any
    session whose events are newer than its row.
    """
    shards = _by_shard(session_ids)
    if not shards:
        return
    try:
        pipeline = redis_client().pipeline(transaction=False)
        for shard, members in shards.items():
            pipeline.sadd(touched_key(org_id, project_id, shard), *members)
            pipeline.set(
                _scheduled_key(org_id, project_id, shard), 1, nx=True, ex=_SCHEDULED_TTL_SECONDS
            )
        replies = pipeline.execute()
        for shard, newly_scheduled in zip(shards, replies[1::2], strict=True):
            if newly_scheduled:
                _send_fold(org_id, project_id, shard, FOLD_DELAY_SECONDS)
    except Exception as exc:  # Redis or the broker: never fail the request
        global _last_warning
        now = time.monotonic()
        if now - _last_warning > _WARNING_INTERVAL_SECONDS:  # not one line per request
            _last_warning = now
            logger.warning("could not mark touched sessions (the sweep will catch up): %s", exc)


# Take marks and keep them under the taking task's id until its fold commits: a task
# redelivered after its worker died (same id) folds them again instead of losing them to
# the sweep (measured in make chaos: 56-63 sessions waited ~30 s for a sweep).
_TAKE = """
local held = redis.call('SMEMBERS', KEYS[2])
if #held > 0 then return held end
local taken = redis.call('SPOP', KEYS[1], ARGV[1])
if #taken > 0 then
    redis.call('SADD', KEYS[2], unpack(taken))
    redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return taken
"""
_HELD_TTL_SECONDS = 3600  # beyond the broker's visibility timeout (900 s)
_take_script = None


def _held_key(org_id: int, project_id: int, shard: int, task_id: str) -> str:
    return redis_key("sessions", "held", org_id, project_id, shard, task_id)


def sessions_take_touched(
    *, org_id: int, project_id: int, shard: int, limit: int, task_id: str | None = None
) -> list[str]:
    """Atomically take up to `limit` of a shard's touched session ids (later marks stay).

    With a `task_id`, the marks are held under it until `sessions_release_held`; the same
    task id (a redelivery) gets the held marks back instead of new ones.
    """
    global _take_script
    client = redis_client()
    touched = touched_key(org_id, project_id, shard)
    if task_id is None:
        taken: list[bytes] = client.spop(touched, limit) or []  # type: ignore[assignment]
    else:
        if _take_script is None:
            _take_script = client.register_script(_TAKE)
        held = _held_key(org_id, project_id, shard, task_id)
        taken = _take_script(keys=[touched, held], args=[limit, _HELD_TTL_SECONDS])
    return [member.decode() for member in taken]


def sessions_release_held(*, org_id: int, project_id: int, shard: int, task_id: str | None) -> None:
    """Forget the marks a task held (its fold committed, or they were put back)."""
    if task_id is not None:
        redis_client().delete(_held_key(org_id, project_id, shard, task_id))


def sessions_release_schedule(*, org_id: int, project_id: int, shard: int) -> bool:
    """Clear a shard's 'fold scheduled' flag; True when its marks are still waiting."""
    client = redis_client()
    client.delete(_scheduled_key(org_id, project_id, shard))
    return bool(client.scard(touched_key(org_id, project_id, shard)))


def sessions_remark(*, org_id: int, project_id: int, session_ids: Sequence[str]) -> None:
    """Put taken marks back (a fold that failed)."""
    for shard, members in _by_shard(session_ids).items():
        redis_client().sadd(touched_key(org_id, project_id, shard), *members)


def sessions_pending(*, org_id: int, project_id: int) -> int:
    """How many of a project's touched sessions wait to be folded (all shards)."""
    pipeline = redis_client().pipeline(transaction=False)
    for key in touched_keys(org_id, project_id):
        pipeline.scard(key)
    return sum(pipeline.execute())


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
