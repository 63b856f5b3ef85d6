"""The fold's work queue in Redis: which sessions new events touched, by shard.

Ingestion's hand-off marks sessions here (`sessions_mark_touched`, after commit); the fold
task takes them (`sessions_take_touched`, held under its task id until its fold commits),
puts them back on failure and schedules the next fold. Redis holds only marks: losing them
loses no event, the periodic sweep refolds any session whose events are newer than its row.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterable, Sequence

import redis
from celery import current_app
from django.conf import settings

from productgraph.keyspace import redis_key

logger = logging.getLogger(__name__)

FOLD_TASK = "sessions.fold_touched_sessions"
FOLD_DELAY_SECONDS = 1  # debounce: one fold per shard per second, not one per event
# A project's touched sessions are spread over this many shards (by a hash of the session
# id), each with its own marks, fold task and advisory lock: the worker's processes fold
# one project in parallel. With one shard, one project's folds ran one at a time and the
# two-process worker used 0.3 of a core while 300k events waited (docs/performance.md).
FOLD_SHARDS = 4
_SCHEDULED_TTL_SECONDS = 30
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
