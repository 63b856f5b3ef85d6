"""Per-project rate limit in events per second: a token bucket in Redis (api.md).

A bucket holds up to 2 x the rate (bursts) and refills at the rate. The whole check is one
Lua script, so concurrent gunicorn workers share one atomic bucket. When Redis cannot be
reached the limit fails open: ingestion never fails because of Redis.

Written by hand rather than with `limits`/`django-ratelimit`: those count requests in
windows, while the contract is a token bucket debited by the number of events.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from productgraph.keyspace import redis_key

logger = logging.getLogger(__name__)

BURST_FACTOR = 2
_SCRIPT = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= cost then
    tokens = tokens - cost
    allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, tostring(tokens)}
"""

_client: redis.Redis | None = None
_script = None
_last_warning = 0.0


@dataclass(frozen=True)
class Decision:
    """Whether a batch may pass, and when to retry if not."""

    allowed: bool
    retry_after: int = 0


def bucket_key(project_id: int) -> str:
    """Return the Redis key of a project's token bucket."""
    return redis_key("ratelimit", project_id)


def _redis() -> redis.Redis:
    global _client, _script
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=0.25, socket_connect_timeout=0.25
        )
        _script = _client.register_script(_SCRIPT)
    return _client


def consume(*, project_id: int, rate_per_second: int, cost: int) -> Decision:
    """Debit `cost` events from the project's bucket; fail open if Redis is unreachable."""
    global _last_warning
    if cost <= 0:
        return Decision(True)
    rate = max(1, rate_per_second)
    capacity = rate * BURST_FACTOR
    cost = min(cost, capacity)  # a batch bigger than the burst passes on a full bucket
    try:
        _redis()
        allowed, tokens = _script(  # type: ignore[misc]
            keys=[bucket_key(project_id)], args=[rate, capacity, cost, time.time()]
        )
    except redis.RedisError as exc:
        now = time.monotonic()
        if now - _last_warning > 10:
            _last_warning = now
            logger.warning("rate limit skipped, Redis unreachable: %s", type(exc).__name__)
        return Decision(True)
    if int(allowed):
        return Decision(True)
    missing = cost - float(tokens)
    return Decision(False, retry_after=max(1, math.ceil(missing / rate)))
