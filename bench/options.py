"""The one option table of `make bench`, `make soak` and `make chaos` (and their modules): each
row is a flag, its environment variable (the flag's default), its default, what it does and
the commands that read it. docs/performance.md lists it (`markdown_table()`)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass

BENCH, FUNNEL, JOURNEYS, REPORT = "bench", "bench.funnel", "bench.journeys", "bench.report"
SOAK, CHAOS = "bench.soak", "bench.chaos"
_MAKE = {BENCH: "make bench", SOAK: "make soak", CHAOS: "make chaos"}


def flag(value: str) -> bool:
    """A 0/1 switch: "1" is on, anything else off."""
    return value == "1"


@dataclass(frozen=True)
class Option:
    """One row of the table."""

    name: str
    env: str
    default: str  # "": computed, as the help says
    help: str
    commands: tuple[str, ...]
    kind: Callable[[str], object] = str


_DOCS = "1: rewrite the docs page (performance.md, reliability-figures.md), 0: leave it"
OPTIONS: tuple[Option, ...] = (
    Option("duration", "BENCH_DURATION", "20", "measured seconds of each phase", (BENCH,), float),
    Option("warmup", "BENCH_WARMUP", "3", "unmeasured seconds before each phase", (BENCH,), float),
    Option("workers", "BENCH_WORKERS", "", "gunicorn workers (default: 2 x CPUs)",
           (BENCH, SOAK, CHAOS), int),
    Option("worker-class", "BENCH_WORKER_CLASS", "productgraph.server.Worker",
           "gunicorn worker class (production's)", (BENCH,)),
    Option("threads", "BENCH_THREADS", "4", "requests at once per worker", (BENCH,), int),
    Option("clients", "BENCH_CLIENTS", "8", "concurrent clients of the load generator",
           (BENCH, SOAK), int),
    Option("batches", "BENCH_BATCHES", "1,100,1000", "batch sizes of the closed-loop phases",
           (BENCH,)),
    Option("doors", "BENCH_DOORS", "otlp_logs,segment",
           "other doors measured with 1,000-event batches (bench/doors.py; empty: none)", (BENCH,)),
    Option("soak", "BENCH_SOAK", "0", "seconds of the memory soak (300: five minutes)", (BENCH,),
           float),
    Option("ceiling-rows", "BENCH_CEILING_ROWS", "200000", "rows of the raw COPY ceiling",
           (BENCH,), int),
    Option("celery-concurrency", "BENCH_CELERY_CONCURRENCY", "1",
           "Celery worker processes (bench: 0 runs none, no session numbers)", (BENCH, SOAK), int),
    Option("drain", "BENCH_DRAIN", "60", "max seconds to wait for the sessions after a phase",
           (BENCH,), float),
    Option("drain", "BENCH_DRAIN", "180", "max seconds for the sessions to catch up", (SOAK,),
           float),
    Option("docs", "BENCH_DOCS", "1", _DOCS, (BENCH, REPORT, SOAK, CHAOS), flag),
    Option("docs-dir", "BENCH_DOCS_DIR", "docs", "where those pages are written",
           (BENCH, REPORT, SOAK, CHAOS)),
    Option("strict", "BENCH_STRICT", "0", "1: exit 1 when a target is missed", (BENCH,), flag),
    Option("database", "BENCH_DATABASE", "", "the bench database (default: <database>_bench)",
           (BENCH,)),
    Option("keep-database", "BENCH_KEEP_DATABASE", "0", "1: keep the run's database afterwards",
           (BENCH, SOAK, CHAOS), flag),
    Option("events", "BENCH_FUNNEL_EVENTS", "10000000", "events of the funnel dataset",
           (FUNNEL,), int),
    Option("runs", "BENCH_FUNNEL_RUNS", "3", "warm runs of each funnel", (FUNNEL,), int),
    Option("explain", "BENCH_FUNNEL_EXPLAIN", "0", "1: EXPLAIN ANALYZE of each funnel, in its JSON",
           (FUNNEL,), flag),
    Option("keep", "BENCH_FUNNEL_KEEP", "0", "1 (make bench's): keep the funnel database",
           (FUNNEL,), flag),
    Option("reuse", "BENCH_FUNNEL_REUSE", "0",
           "1 (make bench's): reuse a kept funnel database of the same size", (FUNNEL,), flag),
    Option("sessions", "BENCH_JOURNEY_SESSIONS", "100000", "sessions of the journeys dataset",
           (JOURNEYS,), int),
    Option("keep", "BENCH_JOURNEY_KEEP", "0", "1 (make bench's): keep the journeys database",
           (JOURNEYS,), flag),
    Option("reuse", "BENCH_JOURNEY_REUSE", "0",
           "1 (make bench's): reuse a kept journeys database of the same size", (JOURNEYS,), flag),
    Option("duration", "BENCH_SOAK_SECONDS", "600", "seconds of the soak", (SOAK,), float),
    Option("rate", "BENCH_SOAK_RATE", "0", "events/s of the soak (0: half the probed max)",
           (SOAK,), float),
    Option("probe", "BENCH_SOAK_PROBE", "15", "seconds of the closed-loop probe", (SOAK,), float),
    Option("duration", "BENCH_CHAOS_SECONDS", "30", "seconds of load in each scenario", (CHAOS,),
           float),
    Option("rate", "BENCH_CHAOS_RATE", "2000", "events/s of that load (100-event batches)",
           (CHAOS,), float),
    Option("clients", "BENCH_CHAOS_CLIENTS", "4", "concurrent clients of the load generator",
           (CHAOS,), int),
    Option("timeout", "BENCH_CHAOS_TIMEOUT", "10", "client socket timeout: longer is a hang",
           (CHAOS,), float),
    Option("outage", "BENCH_CHAOS_OUTAGE", "5", "seconds PostgreSQL / Redis stay down", (CHAOS,),
           float),
    Option("converge", "BENCH_CHAOS_CONVERGE", "180", "max seconds for the sessions to converge",
           (CHAOS,), float),
    Option("visibility-timeout", "BENCH_VISIBILITY_TIMEOUT", "10",
           "the chaos worker's Redis visibility timeout, seconds", (CHAOS,), float),
    Option("only", "BENCH_CHAOS_ONLY", "", "comma-separated scenarios to run (default: all)",
           (CHAOS,)),
)  # fmt: skip


def options(command: str) -> list[Option]:
    return [option for option in OPTIONS if command in option.commands]


def parse(command: str, argv: list[str] | None = None, description: str = "") -> argparse.Namespace:
    """`command`'s flags, each defaulting to its environment variable, then the table's."""
    cli = argparse.ArgumentParser(prog=f"python -m {command}", description=description)
    for option in options(command):
        value = os.environ.get(option.env) or option.default
        cli.add_argument(
            f"--{option.name}",
            type=option.kind,
            default=option.kind(value) if value else None,
            help=f"{option.help} [{option.env}, default {option.default or 'see text'}]",
        )
    return cli.parse_args(argv)


def command_line(command: str, argv: list[str]) -> str:
    """How a run was started (`make soak`, or the module and its flags), its variables first."""
    names = dict.fromkeys(option.env for option in options(command))
    knobs = " ".join(f"{name}={os.environ[name]}" for name in names if name in os.environ)
    base = _MAKE[command] if os.environ.get("MAKELEVEL") else f"python -m {command}"
    return " ".join([knobs, base, *([] if os.environ.get("MAKELEVEL") else argv)]).strip()


def markdown_table() -> list[str]:
    """The table, as docs/performance.md lists it."""
    rows = ["| Variable | Flag | Default | Read by | What |", "|---|---|---|---|---|"]
    for option in OPTIONS:
        commands = ", ".join(f"`{_MAKE.get(command, f'python -m {command}')}`"
                             for command in option.commands)  # fmt: skip
        default = f"`{option.default}`" if option.default else "see what"
        rows.append(f"| `{option.env}` | `--{option.name}` | {default} | {commands} | "
                    f"{option.help} |")  # fmt: skip
    return rows
