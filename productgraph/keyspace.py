"""Names of ProductGraph's Redis keys, under one configurable prefix."""

from __future__ import annotations

from django.conf import settings


def redis_key(*parts: object) -> str:
    """Return `REDIS_KEY_PREFIX` + the parts joined by ':' (tests get a prefix per run)."""
    return settings.REDIS_KEY_PREFIX + ":".join(str(part) for part in parts)
