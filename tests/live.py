"""The production server (gunicorn with config/gunicorn.py's worker) on the test database,
for tests that must meet it as a client does: attacks on the front, real SDKs."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from bench.server import Gunicorn, free_port
from config.env import BASE_DIR
from tests.conftest import _test_urls


@contextmanager
def live_gunicorn(log_dir: Path, *, workers: int = 2, threads: int = 2) -> Iterator[Gunicorn]:
    """Run gunicorn with the production settings on the test database until the block ends."""
    urls, _ = _test_urls()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_ADMIN_URL", "DEBUG")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=urls.runtime,
        DATABASE_OWNER_URL=urls.owner,
        REDIS_URL=settings.REDIS_URL,
        LOG_LEVEL="WARNING",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    gunicorn = Gunicorn(
        port=free_port(),
        workers=workers,
        worker_class="productgraph.server.Worker",
        threads=threads,
        env=env,
        log_path=log_dir / "gunicorn.log",
    )
    gunicorn.start(cwd=BASE_DIR)
    try:
        yield gunicorn
    finally:
        gunicorn.stop()
