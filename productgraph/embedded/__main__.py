"""`python -m productgraph.embedded start|stop|urls` — manage the embedded servers."""

from __future__ import annotations

import sys

from config.env import read
from productgraph.embedded.services import embedded_urls, stop


def main(argv: list[str]) -> int:
    """Run one verb against the embedded servers of this checkout's data directory."""
    verb = argv[0] if argv else "start"
    data_dir = read().data_dir
    if verb == "stop":
        stop(data_dir)
        print("embedded PostgreSQL and Redis stopped")
        return 0
    if verb in {"start", "urls"}:
        pg_url, redis_url = embedded_urls(data_dir)
        print(f"postgres: {pg_url}\nredis:    {redis_url}")
        return 0
    print("usage: python -m productgraph.embedded [start|stop|urls]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
