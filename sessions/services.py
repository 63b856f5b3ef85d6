"""Services of the sessions app that other apps call."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

TOUCHED_PROJECTS_KEY = "pg:sessions:touched-projects"
_client: redis.Redis | None = None


def touched_key(org_id: int, project_id: int) -> str:
    """Return the Redis set holding a project's sessions waiting to be folded."""
    return f"pg:sessions:touched:{org_id}:{project_id}"


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5
        )
    return _client


def sessions_mark_touched(*, org_id: int, project_id: int, session_ids: Iterable[str]) -> None:
    """Record, after commit, which sessions new events touched (one Redis round trip).

    If Redis is down the marks are lost, never the events: the periodic sweep rebuilds
    any session whose events are newer than the session row.
    """
    members = list(session_ids)
    if not members:
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.sadd(touched_key(org_id, project_id), *members)
        pipe.sadd(TOUCHED_PROJECTS_KEY, f"{org_id}:{project_id}")
        pipe.execute()
    except redis.RedisError as exc:
        logger.warning("could not mark touched sessions (sweep will catch up): %s", exc)
