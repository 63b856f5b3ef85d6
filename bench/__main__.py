"""`python -m bench` (`make bench`): run the whole benchmark and write its results.

Every option defaults to a BENCH_* environment variable, so `make bench` takes them too:
`BENCH_SOAK=300 make bench` adds the five-minute memory run.
"""

from __future__ import annotations

import argparse
import os
import sys

from bench.reliability import parser as options_parser

_WORKER = "productgraph.server.Worker"  # production's (config/gunicorn.py)
# The option, its environment variable, its type, its default and what it does.
OPTIONS: tuple[tuple[str, str, type, str, str], ...] = (
    ("duration", "BENCH_DURATION", float, "20", "measured seconds of each phase"),
    ("warmup", "BENCH_WARMUP", float, "3", "unmeasured seconds before each phase"),
    ("workers", "BENCH_WORKERS", int, "", "gunicorn workers (default: 2 x CPUs)"),
    ("worker-class", "BENCH_WORKER_CLASS", str, _WORKER, "gunicorn worker class"),
    ("threads", "BENCH_THREADS", int, "4", "requests at once per worker (executors, threads)"),
    ("clients", "BENCH_CLIENTS", int, "8", "concurrent clients of the load generator"),
    ("batches", "BENCH_BATCHES", str, "1,100,1000", "batch sizes of the closed-loop phases"),
    (
        "doors",
        "BENCH_DOORS",
        str,
        "otlp_logs,segment",
        "other doors measured with 1,000-event batches (bench.doors; empty: none)",
    ),
    ("soak", "BENCH_SOAK", float, "0", "seconds of the memory soak (300: five minutes)"),
    ("ceiling-rows", "BENCH_CEILING_ROWS", int, "200000", "rows of the raw COPY ceiling"),
    (
        "celery-concurrency",
        "BENCH_CELERY_CONCURRENCY",
        int,
        "1",
        "Celery worker processes folding sessions (0: no worker, no session numbers)",
    ),
    ("drain", "BENCH_DRAIN", float, "60", "max seconds to wait for the sessions after a phase"),
    ("docs", "BENCH_DOCS", int, "1", "1: rewrite docs/performance.md, 0: leave it"),
    ("strict", "BENCH_STRICT", int, "0", "1: exit 1 when a target is missed"),
)
KNOBS = (
    *(option[1] for option in OPTIONS),
    "BENCH_DATABASE",
    "BENCH_KEEP_DATABASE",
)


def cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def parser() -> argparse.ArgumentParser:
    """The command line; each option defaults to its environment variable."""
    return options_parser(
        "python -m bench",
        "Benchmark POST /v1/events on gunicorn against a raw COPY ceiling, and the "
        "Celery worker's session lag and fold throughput under that load.",
        OPTIONS,
        epilog="Also read: BENCH_DATABASE (default <database>_bench), "
        "BENCH_KEEP_DATABASE (1: keep the bench database after the run).",
    )


def command_line(argv: list[str]) -> str:
    """How this run was started, BENCH_* variables included (for the report)."""
    knobs = " ".join(f"{name}={os.environ[name]}" for name in KNOBS if name in os.environ)
    base = "make bench" if os.environ.get("MAKELEVEL") else " ".join(["python -m bench", *argv])
    return f"{knobs} {base}".strip()


def main(argv: list[str] | None = None) -> int:
    """Set Django up for the preparation steps, then run the benchmark."""
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    args.workers = args.workers or 2 * cpus()
    # The orchestrator only provisions and measures the ceiling; the server under test
    # runs with config.settings.production in its own processes.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from bench.run import run  # imports the app's models: after django.setup()

    return run(args, command=command_line(argv), cpus=cpus())


if __name__ == "__main__":
    sys.exit(main())
