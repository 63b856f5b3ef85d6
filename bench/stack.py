"""The processes and database reads `make soak` and `make chaos` share (Django set up).

`Stack` is the production shape of `make bench` (bench.server's gunicorn, Celery worker and
private Redis, plus Celery beat when asked), started and stopped as one; `LoadRun` is the
load generator in the background with retries and a ledger. The reads go through Django's
runtime-role connection inside the tenant's org context, as the app reads; each closes the
connections first, so a database restarted in between is simply reconnected to.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import connection, connections, transaction

from bench.database import BenchTenant
from bench.load import command_line
from bench.reliability import TOKEN_LENGTH
from bench.run import BASE_DIR, _consuming, server_env
from bench.server import (
    CeleryBeat,
    CeleryWorker,
    Gunicorn,
    PrivateRedis,
    free_port,
    terminate,
)
from ingestion.models import Event
from productgraph.tenancy.context import org_context
from sessions import services
from sessions.models import Session
from sessions.selectors import sessions_stale
from sessions.sessionization import SessionFacts

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class Stack:
    """gunicorn, a Celery worker (and beat) on a private Redis; `stop()` ends what started."""

    tenant: BenchTenant
    out_dir: Path
    workers: int
    concurrency: int
    redis: PrivateRedis = field(default_factory=PrivateRedis)
    celery_app: str = "productgraph"
    celery_loglevel: str = "WARNING"
    with_beat: bool = False
    env: dict[str, str] = field(init=False)
    server: Gunicorn = field(init=False)
    celery: CeleryWorker = field(init=False)
    beat: CeleryBeat | None = field(init=False, default=None)
    _workers_started: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.env = server_env(self.tenant, self.redis.url)
        self.server = Gunicorn(
            port=free_port(),
            workers=self.workers,
            worker_class="productgraph.server.Worker",
            threads=4,
            env=self.env,
            log_path=self.out_dir / "gunicorn.log",
        )
        self.celery = self._worker()
        if self.with_beat:
            self.beat = CeleryBeat(
                concurrency=0, env=self.env, log_path=self.out_dir / "beat.log", loglevel="INFO"
            )

    def _worker(self) -> CeleryWorker:
        self._workers_started += 1
        return CeleryWorker(
            concurrency=self.concurrency,
            env=self.env,
            log_path=self.out_dir / f"celery-{self._workers_started}.log",
            app=self.celery_app,
            loglevel=self.celery_loglevel,
        )

    def start(self) -> None:
        """Start Redis, the worker, beat (if any) and gunicorn; return once all are ready."""
        self.redis.start()
        self.start_worker(fresh=False)
        if self.beat is not None:
            self.beat.start(cwd=BASE_DIR, ready=lambda: True)
        self.server.start(cwd=BASE_DIR)

    def start_worker(self, *, fresh: bool = True) -> CeleryWorker:
        """Start the worker (with `fresh`, a new one in place of the old, logging anew)."""
        if fresh:
            self.celery = self._worker()
        self.celery.start(cwd=BASE_DIR, ready=lambda: _consuming(self.redis.url))
        return self.celery

    def stop(self) -> None:
        """Stop everything that runs, gunicorn first, Redis last (idempotent)."""
        stoppers: list[Callable[[], None]] = [self.server.stop, self.celery.stop]
        if self.beat is not None:
            stoppers.append(self.beat.stop)
        for stop in [*stoppers, self.redis.stop]:
            try:
                stop()
            except Exception as exc:  # stop the rest whatever happened
                print(f"  cleanup: {type(exc).__name__}: {exc}", flush=True)


@dataclass
class LoadRun:
    """`python -m bench.load --retry --ledger PATH` in the background; `wait()` for its summary."""

    server: Gunicorn
    tenant: BenchTenant
    ledger: Path
    options: dict[str, object]
    grace: float = 60.0
    process: subprocess.Popen[str] | None = None
    started: float = 0.0

    def command(self) -> list[str]:
        """The load generator's command line."""
        return command_line(
            port=self.server.port,
            key=self.tenant.ingest_key,
            project=self.tenant.project_public_id,
            retry=True,
            retry_grace=self.grace,
            ledger=self.ledger,
            **self.options,
        )

    def start(self) -> None:
        """Start the load generator."""
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self.command(),
            cwd=BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def elapsed(self) -> float:
        """Seconds since `start()`."""
        return time.monotonic() - self.started

    def wait(self) -> dict[str, Any]:
        """Wait for the end (bounded by its duration, warm-up and grace); return its summary."""
        if self.process is None:
            raise RuntimeError("the load generator was not started")
        bound = float(str(self.options.get("duration", 0))) + float(
            str(self.options.get("warmup", 2))
        )
        stdout, stderr = self.process.communicate(timeout=bound + self.grace + 120)
        if self.process.returncode != 0:
            raise RuntimeError(f"the load generator failed:\n{stderr[-3000:]}")
        summary: dict[str, Any] = json.loads(stdout)
        return summary

    def stop(self) -> None:
        """Stop the generator if it still runs (idempotent)."""
        terminate(self.process)


def stored_per_token(tenant: BenchTenant) -> tuple[dict[str, int], int, int]:
    """Rows the project stored per event-id token; all its rows; its distinct event ids."""
    connections.close_all()
    with transaction.atomic(), org_context(tenant.org_id), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT left(event_id, %s), count(*) FROM {Event._meta.db_table} "  # noqa: S608
            "WHERE project_id = %s GROUP BY 1",
            [TOKEN_LENGTH, tenant.project_id],
        )
        per_token = {token: int(count) for token, count in cursor.fetchall()}
        cursor.execute(
            f"SELECT count(*), count(DISTINCT event_id) FROM {Event._meta.db_table} "  # noqa: S608
            "WHERE project_id = %s",
            [tenant.project_id],
        )
        rows, distinct = cursor.fetchone()
    return per_token, int(rows), int(distinct)


def stale_sessions(tenant: BenchTenant) -> int:
    """Sessions of the project whose row is missing or older than their last received event."""
    connections.close_all()
    with transaction.atomic(), org_context(tenant.org_id):
        return len(sessions_stale(org_id=tenant.org_id, project_id=tenant.project_id, since=_EPOCH))


def wait_for_sessions(tenant: BenchTenant, *, bound: float, poll: float = 2.0) -> float | None:
    """Seconds until no session of the project is stale, or None if not within `bound` s."""
    started = time.monotonic()
    while True:
        try:
            if stale_sessions(tenant) == 0:
                return round(time.monotonic() - started, 1)
        except Exception as exc:  # a database coming back: poll again
            print(f"  sessions: {type(exc).__name__}: {exc}", flush=True)
        if time.monotonic() - started > bound:
            return None
        time.sleep(poll)


_SESSION_COLUMNS = ["aggregated_at", *(item.name for item in fields(SessionFacts))]


def _session_rows(tenant: BenchTenant) -> dict[str, tuple[Any, ...]]:
    found = Session.objects.filter(org_id=tenant.org_id, project_id=tenant.project_id)
    return {row[0]: row[1:] for row in found.values_list("session_id", *_SESSION_COLUMNS)}


def sessions_against_rebuild(tenant: BenchTenant) -> dict[str, Any]:
    """Compare the project's session rows with a clean rebuild from its stored events.

    The rebuild is the fold `aggregate_sessions` runs, over every session id the events
    name, inside a transaction that is rolled back: nothing is changed.
    """
    connections.close_all()
    with transaction.atomic(), org_context(tenant.org_id):
        before = _session_rows(tenant)
        session_ids = sorted(
            Event.objects.filter(org_id=tenant.org_id, project_id=tenant.project_id)
            .values_list("session_id", flat=True)
            .distinct()
        )
        for start in range(0, len(session_ids), services.FOLD_BATCH):
            services.sessions_fold(
                org_id=tenant.org_id,
                project_id=tenant.project_id,
                session_ids=session_ids[start : start + services.FOLD_BATCH],
            )
        after = _session_rows(tenant)
        transaction.set_rollback(True)
    differing = sorted(
        session_id
        for session_id in before.keys() | after.keys()
        if before.get(session_id) != after.get(session_id)
    )
    return {
        "sessions": len(after),
        "rows": len(before),
        "differing": len(differing),
        "examples": differing[:5],
        "equal": not differing,
    }
