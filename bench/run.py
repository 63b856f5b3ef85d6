"""The benchmark's steps in order: prepare, serve, load, measure the ceiling, report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psutil
import psycopg
from django.conf import settings

from bench import ceiling, database, report
from bench.server import (
    Gunicorn,
    PrivateRedis,
    Sampler,
    cores_used,
    free_port,
    local_postmaster,
)

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
) -> dict[str, Any]:
    """Run `python -m bench.load` once; return its summary."""
    command = [
        sys.executable,
        "-m",
        "bench.load",
        f"--port={server.port}",
        f"--key={tenant.ingest_key}",
        f"--project={tenant.project_public_id}",
        f"--batch={batch}",
        f"--clients={clients}",
        f"--duration={duration}",
        f"--warmup={warmup}",
        f"--rate={rate}",
    ]
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


def _phase(
    name: str,
    summary: dict[str, Any],
    sampler: Sampler,
) -> dict[str, Any]:
    start, end = summary.pop("window_monotonic")
    samples = sampler.between(start, end)
    peak: dict[int, int] = {}
    for sample in samples:
        for pid, rss in sample.rss.items():
            peak[pid] = max(peak.get(pid, 0), rss)
    cpu = cores_used([sample.cpu for sample in samples])
    if cpu:
        cpu["load_generator"] = summary["load_cpu_cores"]
    return {
        "name": name,
        **summary,
        "worker_peak_rss_mb": [round(value / 2**20, 1) for _, value in sorted(peak.items())],
        "cpu_cores": cpu,
    }


def _soak_memory(
    sampler: Sampler, phase: dict[str, Any], window: list[float], *, workers: int
) -> dict[str, Any]:
    """Each worker's mean RSS over the soak's first and last minute (or third, if shorter)."""
    start, end = window
    span = min(60.0, (end - start) / 3)
    series: dict[int, list[tuple[float, int]]] = {}
    for sample in sampler.between(start, end):
        for pid, rss in sample.rss.items():
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
    return {
        "seconds": round(end - start),
        "span_s": round(span),
        "batch": phase["batch"],
        "events_per_s": phase["events_per_s"],
        "workers": rows,
        "worker_restarts": max(0, len(series) - workers),
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
    postgres_version, postmaster = _postgres_facts(tenant)
    private_redis = PrivateRedis()
    server = Gunicorn(
        port=free_port(),
        workers=args.workers,
        worker_class=args.worker_class,
        threads=args.threads,
        env=server_env(tenant, private_redis.url),
        log_path=out_dir / "gunicorn.log",
    )
    sampler = Sampler(server=server, postmaster_pid=postmaster, database=tenant.database)
    phases: list[dict[str, Any]] = []
    soak: dict[str, Any] | None = None
    batches = [int(size) for size in args.batches.split(",")]
    common = {"clients": args.clients, "warmup": args.warmup}
    try:
        _say(
            f"starting gunicorn ({SETTINGS}, {args.workers} x {args.worker_class} workers"
            f"{f', {args.threads} threads' if args.threads > 1 else ''}) on 127.0.0.1:{server.port}"
        )
        private_redis.start()
        server.start(cwd=BASE_DIR)
        sampler.start()
        _say("warming up (100-event batches)")
        load(server, tenant, batch="100", duration=args.duration / 4, **common)
        for batch in batches:
            _say(f"phase: {batch}-event batches, {args.clients} clients, {args.duration:.0f} s")
            summary = load(server, tenant, batch=str(batch), duration=args.duration, **common)
            phases.append(_phase(f"{batch} per batch", summary, sampler))
            _say(f"  {report.phase_line(phases[-1])}")
        hundred = next((phase for phase in phases if phase["batch"] == 100), None)
        if hundred is not None:
            rate = round(hundred["events_per_s"] / 2, 1)
            _say(f"phase: 100-event batches paced at half the maximum rate, {rate:,.0f} events/s")
            summary = load(server, tenant, batch="100", duration=args.duration, rate=rate, **common)
            phases.append(_phase("100 per batch at half the max rate", summary, sampler))
            _say(f"  {report.phase_line(phases[-1])}")
        if args.soak > 0:
            mix = ",".join(str(batch) for batch in batches)
            _say(f"soak: batches of {mix} in turn, {args.soak:.0f} s, sampling worker memory")
            summary = load(server, tenant, batch=mix, duration=args.soak, **common)
            window = summary["window_monotonic"]
            phases.append(_phase("soak", summary, sampler))
            soak = _soak_memory(sampler, phases[-1], window, workers=args.workers)
            _say(f"  {report.phase_line(phases[-1])}")
    finally:
        sampler.stop()
        server.stop()
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
    )
    del rows
    if os.environ.get("BENCH_KEEP_DATABASE") != "1":
        database.drop(tenant)
    peak_per_worker: dict[str, float] = {}
    for sample in sampler.samples:
        for pid, rss in sample.rss.items():
            peak_per_worker[str(pid)] = max(peak_per_worker.get(str(pid), 0.0), rss / 2**20)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "commit": git_revision(),
        "machine": {
            **machine_info(cpus=cpus, postgres_version=postgres_version),
            "load_average_before": load_before,
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
        "phases": phases,
        "ceiling": roof,
        "memory": {
            "peak_rss_mb_per_worker": [round(value, 1) for value in peak_per_worker.values()],
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
        path.write_text(report.markdown(results, previous_soak=previous_soak))
        _say(f"written: {path.relative_to(BASE_DIR)}")
    failures = [phase["name"] for phase in phases if report.phase_problems(phase)]
    if failures:
        _say(f"INVALID: requests failed or events were rejected in: {', '.join(failures)}")
        return 1
    if args.strict and any(target["passed"] is False for target in results["targets"]):
        return 1
    return 0
