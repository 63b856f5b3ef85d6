"""The benchmark's steps in order: prepare, serve (gunicorn and a Celery worker), load and
watch the sessions catch up, measure the ceiling, report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psutil
import psycopg
import redis
from django.conf import settings

from bench import ceiling, database, report
from bench.load import command_line
from bench.server import (
    CeleryWorker,
    Gunicorn,
    PrivateRedis,
    Sample,
    Sampler,
    cores_used,
    free_port,
    local_postmaster,
)
from bench.sessions import CELERY_APP_NAME, SessionWatch, phase_sessions
from productgraph.tenancy.roles import url_password, url_user, with_credentials
from sessions.fold_queue import touched_keys

BASE_DIR = Path(__file__).resolve().parent.parent
SETTINGS = "config.settings.production"


def _say(line: str) -> None:
    print(line, flush=True)


def server_env(tenant: database.BenchTenant, redis_url: str) -> dict[str, str]:
    """The production server's environment: the bench database's URLs, the bench Redis."""
    env = dict(os.environ)
    for name in ("DATABASE_ADMIN_URL", "DJANGO_SETTINGS_MODULE", "DEBUG"):
        env.pop(name, None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "DATABASE_URL": tenant.urls.runtime,
            "DATABASE_OWNER_URL": tenant.urls.owner,
            "REDIS_URL": redis_url,
            "CONN_MAX_AGE": env.get("CONN_MAX_AGE", "60"),
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
        }
    )
    return env


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or parse_qs(parts.query).get("host", [""])[0]
    return host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/")


def _postgres_facts(tenant: database.BenchTenant) -> tuple[str, int | None]:
    with psycopg.connect(tenant.urls.owner) as connection:
        row = connection.execute("SELECT current_setting('server_version'), pg_backend_pid()")
        server_version, backend = row.fetchone() or ("unknown", 0)
        # While the backend still runs: its parent is the postmaster.
        postmaster = local_postmaster(backend) if _is_local(tenant.urls.owner) else None
    return str(server_version), postmaster


def load(
    server: Gunicorn,
    tenant: database.BenchTenant,
    *,
    batch: str,
    clients: int,
    duration: float,
    warmup: float,
    rate: float = 0.0,
    door: str = "events",
) -> dict[str, Any]:
    """Run `python -m bench.load` once through `door` (bench.doors); return its summary."""
    command = command_line(
        port=server.port,
        key=tenant.ingest_key,
        project=tenant.project_public_id,
        door=door,
        batch=batch,
        clients=clients,
        duration=duration,
        warmup=warmup,
        rate=rate,
    )
    finished = subprocess.run(  # noqa: S603 - our own interpreter and module
        command,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=warmup + duration + 120,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{finished.stderr[-3000:]}")
    summary: dict[str, Any] = json.loads(finished.stdout)
    return summary


def _peak_mb(samples: list[Sample], *, celery: bool = False) -> list[float]:
    peak: dict[int, int] = {}
    for sample in samples:
        for pid, rss in (sample.celery_rss if celery else sample.rss).items():
            peak[pid] = max(peak.get(pid, 0), rss)
    return [round(value / 2**20, 1) for _, value in sorted(peak.items())]


def _cores(samples: list[Sample], watch: SessionWatch | None) -> dict[str, float | None]:
    return cores_used(
        [sample.cpu for sample in samples],
        celery_backends=watch.celery_backends if watch else (),
        ignored_backends=watch.watch_backends if watch else (),
    )


def _phase(
    name: str,
    summary: dict[str, Any],
    sampler: Sampler,
    watch: SessionWatch | None = None,
) -> dict[str, Any]:
    start, end = summary.pop("window_monotonic")
    samples = sampler.between(start, end)
    cpu = _cores(samples, watch)
    if cpu:
        cpu["load_generator"] = summary["load_cpu_cores"]
    return {
        "name": name,
        **summary,
        "worker_peak_rss_mb": _peak_mb(samples),
        "celery_peak_rss_mb": _peak_mb(samples, celery=True),
        "cpu_cores": cpu,
    }


@dataclass
class Ingest:
    """Runs one load (an ingestion phase); with a worker, waits for the sessions to catch up."""

    server: Gunicorn
    tenant: database.BenchTenant
    sampler: Sampler
    watch: SessionWatch | None
    clients: int
    warmup: float
    drain: float
    stored: int = 0  # events the load generator stored so far, every run and warm-up
    windows: list[list[float]] = field(default_factory=list)

    def __call__(
        self, name: str, *, batch: str, duration: float, rate: float = 0.0, door: str = "events"
    ) -> dict[str, Any]:
        """Run the load; return the phase's numbers (with `sessions` when a worker runs)."""
        _analyze(self.tenant)
        held = _events_held(self.tenant)
        load_average = [round(value, 2) for value in os.getloadavg()]
        if self.watch is not None:
            self.watch.probing(name)
        try:
            summary = load(
                self.server,
                self.tenant,
                batch=batch,
                clients=self.clients,
                duration=duration,
                warmup=self.warmup,
                rate=rate,
                door=door,
            )
        finally:
            if self.watch is not None:
                self.watch.probing(None)
        stopped = time.monotonic()
        self.stored += summary["events_stored_total"]
        window = list(summary["window_monotonic"])
        self.windows.append(window)
        phase = _phase(name, summary, self.sampler, self.watch)
        phase["load_average_before"] = load_average
        phase["events_held_before"] = held
        _say(f"  {report.phase_line(phase)}")
        if self.watch is None:
            return phase
        expected = self.stored + self.watch.marker_events
        drained = self.watch.drain(stored=expected, since=stopped, bound=self.drain)
        ended = time.monotonic()
        phase["sessions"] = phase_sessions(
            markers=[marker for marker in self.watch.markers if marker.phase == name],
            readings=list(self.watch.readings),
            window=(window[0], window[1]),
            stopped=stopped,
            ended=ended,
            drained=drained,
            bound=self.drain,
            expected=expected,
            cpu=_cores(self.sampler.between(window[0], ended), self.watch),
        )
        _say(f"  sessions: {report.sessions_line(phase['sessions'])}")
        return phase


def _checkpoint(tenant: database.BenchTenant) -> None:
    """Write out what earlier work left dirty (a funnel dataset loaded just before, say), so
    that a checkpoint of it does not land in the phases. Needs the admin URL."""
    admin = tenant.urls.admin
    if not admin:
        return
    url = with_credentials(
        admin, user=url_user(admin), password=url_password(admin), database=tenant.database
    )
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CHECKPOINT")


def _analyze(tenant: database.BenchTenant) -> None:
    """ANALYZE the bench database before a phase, as autovacuum keeps a live one analyzed.

    Each phase starts with current statistics. Within a phase the events table still grows
    several-fold, faster than autovacuum (1 min naptime) follows: with `session_id`'s
    distinct count from the smaller table, the planner takes a fold's 500 sessions for a
    large share of the partition and scans all of it. The share of fold reads by
    sequential scans is reported per phase.
    """
    with psycopg.connect(tenant.urls.owner, autocommit=True) as connection:
        connection.execute("ANALYZE")


def _events_held(tenant: database.BenchTenant) -> int:
    """How many rows the events table holds (the ceiling's faithful copy gets as many)."""
    with psycopg.connect(tenant.urls.owner) as connection:  # one transaction: the org is local
        connection.execute(
            "SELECT set_config('app.current_org_id', %s, true)", [str(tenant.org_id)]
        )
        row = connection.execute("SELECT count(*) FROM ingestion_event").fetchone()
    return int(row[0]) if row else 0


def _consuming(redis_url: str) -> bool:
    """Whether a client (the Celery worker) is blocked reading a queue of this Redis."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        return any(entry.get("cmd") in ("brpop", "blpop") for entry in client.client_list())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _consistency(tenant: database.BenchTenant) -> dict[str, Any]:
    """After the last drain: every stored event counted once in its session's row?"""
    with psycopg.connect(tenant.urls.runtime) as connection, connection.transaction():
        connection.execute(
            "SELECT set_config('app.current_org_id', %s, true)", [str(tenant.org_id)]
        )
        row = connection.execute(
            "SELECT (SELECT count(*) FROM ingestion_event WHERE project_id = %(p)s), "
            "(SELECT coalesce(sum(event_count), 0) FROM product_sessions_session "
            "WHERE project_id = %(p)s), "
            "(SELECT count(*) FROM product_sessions_session WHERE project_id = %(p)s)",
            {"p": tenant.project_id},
        ).fetchone()
    events, reflected, sessions = row or (0, 0, 0)
    return {
        "events": int(events),
        "reflected": int(reflected),
        "sessions": int(sessions),
        "consistent": int(events) == int(reflected),
    }


def _memory_rows(
    samples: list[Sample], start: float, end: float, span: float, *, celery: bool = False
) -> tuple[list[dict[str, Any]], int]:
    """Mean RSS of each process over the first and the last `span` s; and how many were seen."""
    series: dict[int, list[tuple[float, int]]] = {}
    for sample in samples:
        for pid, rss in (sample.celery_rss if celery else sample.rss).items():
            series.setdefault(pid, []).append((sample.at, rss))
    rows = []
    for pid, points in sorted(series.items()):
        head = [rss for at, rss in points if at <= start + span]
        tail = [rss for at, rss in points if at >= end - span]
        if not head or not tail:
            continue
        first, last = sum(head) / len(head) / 2**20, sum(tail) / len(tail) / 2**20
        rows.append(
            {
                "pid": pid,
                "first_mb": round(first, 1),
                "last_mb": round(last, 1),
                "growth_mb": round(last - first, 1),
                "growth_pct": round((last - first) / first * 100, 1),
                "peak_mb": round(max(rss for _, rss in points) / 2**20, 1),
            }
        )
    return rows, len(series)


def _soak_memory(
    sampler: Sampler, phase: dict[str, Any], window: list[float], *, workers: int
) -> dict[str, Any]:
    """Each worker's mean RSS over the soak's first and last minute (or third, if shorter)."""
    start, end = window
    span = min(60.0, (end - start) / 3)
    samples = sampler.between(start, end)
    rows, seen = _memory_rows(samples, start, end, span)
    celery_rows, _ = _memory_rows(samples, start, end, span, celery=True)
    return {
        "seconds": round(end - start),
        "span_s": round(span),
        "batch": phase["batch"],
        "events_per_s": phase["events_per_s"],
        "workers": rows,
        "worker_restarts": max(0, seen - workers),
        "celery": celery_rows,
    }


def _versions() -> dict[str, str]:
    return {name: version(name) for name in ("django", "gunicorn", "psycopg")}


def machine_info(*, cpus: int, postgres_version: str) -> dict[str, Any]:
    """What the numbers were measured on."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": cpus,
        "cpu_model": model,
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres_version,
        **_versions(),
    }


def git_revision() -> str:
    """The commit measured, marked when the tree had uncommitted changes."""
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, fixed args
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return revision + (" + uncommitted changes" if dirty else "")


def run(args: argparse.Namespace, *, command: str, cpus: int) -> int:
    """Run the benchmark; return the exit status."""
    out_dir = settings.PRODUCTGRAPH_DATA_DIR / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    load_before = [round(value, 2) for value in os.getloadavg()]
    _say(f"bench: {command}")
    _say("preparing the bench database (roles, database, migrations as the owner, tenant)")
    tenant = database.prepare(report=lambda line: _say(f"  {line}"))
    _checkpoint(tenant)
    postgres_version, postmaster = _postgres_facts(tenant)
    private_redis = PrivateRedis()
    env = server_env(tenant, private_redis.url)
    server = Gunicorn(
        port=free_port(),
        workers=args.workers,
        worker_class=args.worker_class,
        threads=args.threads,
        env=env,
        log_path=out_dir / "gunicorn.log",
    )
    celery = (
        CeleryWorker(
            concurrency=args.celery_concurrency,
            env={**env, "PGAPPNAME": CELERY_APP_NAME},
            log_path=out_dir / "celery.log",
        )
        if args.celery_concurrency > 0
        else None
    )
    sampler = Sampler(
        server=server, postmaster_pid=postmaster, database=tenant.database, celery=celery
    )
    watch = (
        SessionWatch(
            port=server.port,
            key=tenant.ingest_key,
            project_public_id=tenant.project_public_id,
            org_id=tenant.org_id,
            project_id=tenant.project_id,
            database_url=tenant.urls.runtime,
            redis_url=private_redis.url,
            touched_keys=touched_keys(org_id=tenant.org_id, project_id=tenant.project_id),
        )
        if celery is not None
        else None
    )
    ingest = Ingest(
        server=server,
        tenant=tenant,
        sampler=sampler,
        watch=watch,
        clients=args.clients,
        warmup=args.warmup,
        drain=args.drain,
    )
    phases: list[dict[str, Any]] = []
    soak: dict[str, Any] | None = None
    consistency: dict[str, Any] | None = None
    batches = [int(size) for size in args.batches.split(",")]
    try:
        private_redis.start()
        if celery is not None:
            _say(
                f"starting the Celery worker (celery -A productgraph worker, "
                f"{celery.concurrency} processes)"
            )
            celery.start(cwd=BASE_DIR, ready=lambda: _consuming(private_redis.url))
        _say(
            f"starting gunicorn ({SETTINGS}, {args.workers} x {args.worker_class} workers"
            f"{f', {args.threads} threads' if args.threads > 1 else ''}) on 127.0.0.1:{server.port}"
        )
        server.start(cwd=BASE_DIR)
        sampler.start()
        if watch is not None:
            watch.start()
        _say("warming up (100-event batches)")
        ingest("warm-up", batch="100", duration=args.duration / 4)
        for batch in batches:
            _say(f"phase: {batch}-event batches, {args.clients} clients, {args.duration:.0f} s")
            phases.append(ingest(f"{batch} per batch", batch=str(batch), duration=args.duration))
            if batch != 100:
                continue
            # Half the maximum just measured, at once: after the 1,000-event phase the
            # machine is still vacuuming and writing back the ~500,000 rows it stored, which
            # is that phase's cost (p99 106-138 ms when the paced phase came last).
            rate = round(phases[-1]["events_per_s"] / 2, 1)
            _say(f"phase: 100-event batches paced at half the maximum rate, {rate:,.0f} events/s")
            phases.append(
                ingest(
                    "100 per batch at half the max rate",
                    batch="100",
                    duration=args.duration,
                    rate=rate,
                )
            )
        for door in [name.strip() for name in (args.doors or "").split(",") if name.strip()]:
            _say(f"phase: 1,000-event batches through {door}, {args.clients} clients")
            phases.append(
                ingest(f"1000 per batch, {door}", batch="1000", duration=args.duration, door=door)
            )
        if args.soak > 0:
            mix = ",".join(str(batch) for batch in batches)
            _say(f"soak: batches of {mix} in turn, {args.soak:.0f} s, sampling worker memory")
            phases.append(ingest("soak", batch=mix, duration=args.soak))
            soak = _soak_memory(sampler, phases[-1], ingest.windows[-1], workers=args.workers)
        if watch is not None:
            consistency = _consistency(tenant)
            drained = phases[-1]["sessions"]["drain_s"] is not None if phases else True
            _say(f"  {report.consistency_line(consistency, drained=drained)}")
    finally:
        if watch is not None:
            watch.stop()
        sampler.stop()
        server.stop()
        if celery is not None:
            celery.stop()
        private_redis.stop()
    _say(f"ceiling: raw COPY of {args.ceiling_rows:,} rows into a copy of the events table")
    rows = ceiling.ceiling_rows(
        count=args.ceiling_rows,
        batch=1000,
        org_id=tenant.org_id,
        project_id=tenant.project_id,
        public_id=tenant.project_public_id,
        slug=tenant.project_slug,
    )
    roof = ceiling.measure(
        owner_url=tenant.urls.owner,
        rows=rows,
        batch=1000,
        postmaster_pid=postmaster,
        database=tenant.database,
        org_id=tenant.org_id,
        filled_rows=next(
            (
                phase["events_held_before"]
                for phase in phases
                if phase["batch"] == 1000 and phase["mode"] == "closed"
            ),
            None,
        ),
    )
    del rows
    load_after = [round(value, 2) for value in os.getloadavg()]
    if os.environ.get("BENCH_KEEP_DATABASE") != "1":
        database.drop(tenant)
    peak_per_worker: dict[str, float] = {}
    for sample in sampler.samples:
        for pid, rss in sample.rss.items():
            peak_per_worker[str(pid)] = max(peak_per_worker.get(str(pid), 0.0), rss / 2**20)
    celery_peak = _peak_mb(sampler.samples, celery=True)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "commit": git_revision(),
        "machine": {
            **machine_info(cpus=cpus, postgres_version=postgres_version),
            "load_average_before": load_before,
            "load_average_after": load_after,
        },
        "server": {
            "command": " ".join(["gunicorn", *server.command()[3:]]).replace(
                f":{server.port}", ":<free port>"
            ),
            "settings": SETTINGS,
            "workers": args.workers,
            "worker_class": args.worker_class,
            "threads": args.threads,
            "conn_max_age": int(server.env["CONN_MAX_AGE"]),
            "database": tenant.database,
        },
        "load": {
            "clients": args.clients,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "generator": "python -m bench.load (separate process, one thread per client)",
        },
        "sessions": (
            {
                "worker": " ".join(["celery", *celery.command()[3:]]),
                "concurrency": celery.concurrency,
                "drain_bound_s": args.drain,
                "probe_interval_s": watch.probe_interval,
                "probe_failures": watch.probe_failures,
                "errors": watch.errors,
                "consistency": consistency,
            }
            if celery is not None and watch is not None
            else None
        ),
        "phases": phases,
        "ceiling": roof,
        "memory": {
            "peak_rss_mb_per_worker": [round(value, 1) for value in peak_per_worker.values()],
            "celery_peak_rss_mb": celery_peak,
            "soak": soak,
        },
    }
    results["ratio"] = report.ratio(results)
    results["cpu_ratio"] = report.cpu_ratio(results)
    results["targets"] = report.targets(results)
    report.dump(results, out_dir / "results.json")
    if soak is not None:
        report.dump(results, out_dir / "soak.json")
    _say("")
    _say(report.text(results))
    _say(f"results: {out_dir / 'results.json'}")
    if args.docs:
        previous_soak = report.load_json(out_dir / "soak.json") if soak is None else None
        path = BASE_DIR / "docs" / "performance.md"
        page = report.markdown(results, previous_soak=previous_soak, **report.companions(out_dir))
        path.write_text(page)
        _say(f"written: {path.relative_to(BASE_DIR)}")
    failures = [phase["name"] for phase in phases if report.phase_problems(phase)]
    if failures:
        _say(f"INVALID: requests failed or events were rejected in: {', '.join(failures)}")
        return 1
    if args.strict and any(target["passed"] is False for target in results["targets"]):
        return 1
    return 0
