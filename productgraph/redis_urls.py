"""Redis URL helpers (pure)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def broker_url(redis_url: str) -> str:
    """Return the Celery broker URL for a redis-py URL.

    redis-py spells a unix socket `unix:///path?db=N`; kombu spells it
    `redis+socket:///path?virtual_host=N`.
    """
    parts = urlsplit(redis_url)
    if parts.scheme != "unix":
        return redis_url
    query = dict(parse_qsl(parts.query))
    db = query.pop("db", None)
    if db is not None:
        query["virtual_host"] = db
    suffix = f"?{urlencode(query)}" if query else ""
    return f"redis+socket://{parts.path}{suffix}"


def with_db(redis_url: str, db: int) -> str:
    """Return the same server's URL with database number `db`."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(db)
        return f"unix://{parts.path}?{urlencode(query)}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))
