"""The embedded default: a real PostgreSQL 16 and Redis from PyPI, data under `.data/`.

Used when `DATABASE_URL` / `REDIS_URL` are unset (operations.md). The servers outlive the
process that started them, so management commands in a second shell find the same ones;
`python -m productgraph.embedded stop` stops them.
"""

from productgraph.embedded.services import embedded_urls, ensure_postgres, ensure_redis

__all__ = ["embedded_urls", "ensure_postgres", "ensure_redis"]
