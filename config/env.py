"""The one place that reads the environment.

Every setting that comes from the environment is read here, with its default, so that
`.env.example`, the configuration docs and the code can be checked against one list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


@dataclass(frozen=True)
class Settings:
    """Everything ProductGraph reads from the environment, typed."""

    secret_key: str
    debug: bool
    allowed_hosts: list[str]
    port: int
    database_url: str | None
    database_owner_url: str | None
    database_admin_url: str | None
    redis_url: str | None
    data_dir: Path
    log_level: str
    log_format: str
    conn_max_age: int
    metrics_token: str | None
    prometheus_multiproc_dir: str | None
    analytics_store: str


def read() -> Settings:
    """Read the environment once; settings modules call this and nothing else."""
    return Settings(
        secret_key=env.str("SECRET_KEY", default=""),
        debug=env.bool("DEBUG", default=False),
        allowed_hosts=env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"]),
        port=env.int("PORT", default=8080),
        database_url=env.str("DATABASE_URL", default="") or None,
        database_owner_url=env.str("DATABASE_OWNER_URL", default="") or None,
        database_admin_url=env.str("DATABASE_ADMIN_URL", default="") or None,
        redis_url=env.str("REDIS_URL", default="") or None,
        data_dir=Path(env.str("PRODUCTGRAPH_DATA_DIR", default=str(BASE_DIR / ".data"))),
        log_level=env.str("LOG_LEVEL", default="INFO").upper(),
        log_format=env.str("LOG_FORMAT", default=""),  # "": the settings module's default
        conn_max_age=env.int("CONN_MAX_AGE", default=60),
        metrics_token=env.str("METRICS_TOKEN", default="") or None,
        # Also read by prometheus_client itself; config/gunicorn.py sets it for its workers.
        prometheus_multiproc_dir=env.str("PROMETHEUS_MULTIPROC_DIR", default="") or None,
        analytics_store=env.str("ANALYTICS_STORE", default="postgres"),
    )
