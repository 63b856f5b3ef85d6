"""`python -m bench.soak` (`make soak`): ten minutes at half the maximum rate, nothing lost.

The production server (gunicorn, `config.settings.production`) and a Celery worker on a
private Redis, against a dedicated database (`<database>_soak` on the configured server,
recreated and dropped like `make bench`'s). A short closed-loop probe with 100-event batches
finds the maximum rate (or `--rate` gives it); then the load generator sends 100-event
batches at half that rate for `--duration` seconds with client retries on, recording every
request's outcome. At the end:

- every acknowledged event id is stored exactly once, and nothing else is (bench.reliability);
- the Celery worker's processes (and gunicorn's workers) use as much memory over the last
  minute as over the first (mean RSS, within 5 %);
- the sessions catch up: every session the run touched has `aggregated_at` at or after its
  last event's `received_at` within `--drain` seconds, and counts all its events.

Prints a pass/fail table, writes `.data/reliability/soak.json` and its section of
docs/reliability-figures.md, and exits 1 if a check failed. Every wait is bounded; every
process it started is stopped on the way out (Ctrl-C included).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import Any

from bench import report
from bench.reliability import (
    Check,
    Ledger,
    Option,
    account,
    accounting_line,
    check_lines,
    check_table,
    checks_json,
    command_line,
    interruptible,
    load_average,
    machine_line,
    memory_check,
    parser,
    passed,
    status_counts_line,
    write_docs,
)

OPTIONS: tuple[Option, ...] = (
    ("duration", "BENCH_SOAK_SECONDS", float, "600", "seconds of the soak"),
    ("rate", "BENCH_SOAK_RATE", float, "0", "events/s of the soak (0: half the probed max)"),
    ("probe", "BENCH_SOAK_PROBE", float, "15", "seconds of the closed-loop probe"),
    ("clients", "BENCH_CLIENTS", int, "8", "concurrent clients of the load generator"),
    ("workers", "BENCH_WORKERS", int, "", "gunicorn workers (default: 2 x CPUs)"),
    ("celery-concurrency", "BENCH_CELERY_CONCURRENCY", int, "1", "Celery worker processes"),
    ("drain", "BENCH_DRAIN", float, "180", "max seconds for the sessions to catch up"),
    ("docs", "BENCH_DOCS", int, "1", "1: rewrite docs/reliability-figures.md, 0: leave it"),
)
MEMORY_GROWTH_LIMIT_PCT = 5.0
MEMORY_SPAN_S = 60.0
BATCH = 100


def main(argv: list[str] | None = None) -> int:
    """Run the soak; return 0 when every check passed."""
    from bench.__main__ import cpus

    argv = sys.argv[1:] if argv is None else argv
    args = parser("python -m bench.soak", __doc__.split("\n")[0], OPTIONS).parse_args(argv)
    args.workers = args.workers or 2 * cpus()
    interruptible()
    # The orchestrator provisions and reads; the server under test runs production settings.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    try:
        return soak(args, command=command_line(argv, make="soak", options=OPTIONS))
    except KeyboardInterrupt:
        print("interrupted: every process started was stopped", flush=True)
        return 130


def soak(args: argparse.Namespace, *, command: str) -> int:
    """The soak itself (Django set up)."""
    from django.conf import settings

    from bench import database
    from bench.run import (
        _analyze,
        _consistency,
        _memory_rows,
        _postgres_facts,
        git_revision,
        machine_info,
    )
    from bench.server import Sampler
    from bench.stack import LoadRun, Stack, stored_per_token, wait_for_sessions

    out_dir = settings.PRODUCTGRAPH_DATA_DIR / "reliability"
    out_dir.mkdir(parents=True, exist_ok=True)
    load_before = load_average()
    print(f"soak: {command}", flush=True)
    name = f"{database.default_database(settings.DATABASE_URLS)}_soak"
    print(f"preparing the soak database {name}", flush=True)
    tenant = database.prepare(report=lambda line: print(f"  {line}", flush=True), database=name)
    probe_tenant = database.tenant_create(
        database=name, urls=tenant.urls, slug="soak-probe", public_id="proj_soak_probe"
    )
    postgres_version, postmaster = _postgres_facts(tenant)
    stack = Stack(
        tenant=tenant,
        out_dir=out_dir / "soak",
        workers=args.workers,
        concurrency=args.celery_concurrency,
    )
    sampler = Sampler(
        server=stack.server, postmaster_pid=postmaster, database=name, celery=stack.celery
    )
    runs: list[LoadRun] = []
    try:
        print(
            f"starting gunicorn ({args.workers} workers, production settings) and a Celery "
            f"worker ({args.celery_concurrency} processes) on a private Redis",
            flush=True,
        )
        stack.start()
        sampler.start()
        rate = args.rate
        probe: dict[str, Any] | None = None
        if not rate:
            print(f"probe: closed loop, {BATCH}-event batches, {args.probe:.0f} s", flush=True)
            runs.append(
                LoadRun(
                    server=stack.server,
                    tenant=probe_tenant,
                    ledger=out_dir / "soak" / "probe-ledger.json",
                    options={"batch": BATCH, "clients": args.clients, "duration": args.probe},
                    grace=10,
                )
            )
            runs[-1].start()
            probe = runs[-1].wait()
            rate = round(probe["events_per_s"] / 2, 1)
            print(f"  maximum {probe['events_per_s']:,.0f} events/s", flush=True)
        print(
            f"soak: {BATCH}-event batches paced at {rate:,.0f} events/s for {args.duration:.0f} s, "
            "retries on",
            flush=True,
        )
        _analyze(tenant)  # as bench.run does before each phase (its docstring says why)
        ledger_path = out_dir / "soak" / "ledger.json"
        runs.append(
            LoadRun(
                server=stack.server,
                tenant=tenant,
                ledger=ledger_path,
                options={
                    "batch": BATCH,
                    "clients": args.clients,
                    "duration": args.duration,
                    "warmup": 0,
                    "rate": rate,
                },
            )
        )
        runs[-1].start()
        summary = runs[-1].wait()
        print(f"  {summary['events_per_s']:,.0f} events/s; waiting for the sessions", flush=True)
        drained = wait_for_sessions(tenant, bound=args.drain)
        sampler.stop()
        start, end = summary.pop("window_monotonic")
        span = min(MEMORY_SPAN_S, (end - start) / 3)
        samples = sampler.between(start, end)
        celery_rows, _ = _memory_rows(samples, start, end, span, celery=True)
        worker_rows, _ = _memory_rows(samples, start, end, span)
        per_token, rows, distinct = stored_per_token(tenant)
        consistency = _consistency(tenant)
    finally:
        for load_run in runs:
            load_run.stop()
        sampler.stop()
        stack.stop()
    figures = account(Ledger.read(ledger_path), per_token, rows=rows, distinct=distinct)
    checks = soak_checks(
        figures=figures,
        summary=summary,
        celery_rows=celery_rows,
        worker_rows=worker_rows,
        drained=drained,
        drain_bound=args.drain,
        consistency=consistency,
        span=span,
    )
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "commit": git_revision(),
        "machine": machine_info(
            cpus=len(os.sched_getaffinity(0)), postgres_version=postgres_version
        ),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "passed": passed(checks),
        "checks": checks_json(checks),
        "duration_s": args.duration,
        "probe": probe,
        "rate": rate,
        "load": summary,
        "accounting": figures,
        "memory": {"span_s": round(span), "celery": celery_rows, "gunicorn": worker_rows},
        "sessions": {"drain_s": drained, "drain_bound_s": args.drain, **consistency},
    }
    report.dump(results, out_dir / "soak.json")
    if os.environ.get("BENCH_KEEP_DATABASE") != "1":
        database.drop(tenant)
    print("", flush=True)
    print("\n".join(check_lines(checks)), flush=True)
    print(f"results: {out_dir / 'soak.json'}", flush=True)
    if args.docs:
        print(f"written: {write_docs('soak', docs_lines(results))}", flush=True)
    return 0 if results["passed"] else 1


def soak_checks(
    *,
    figures: dict[str, Any],
    summary: dict[str, Any],
    celery_rows: list[dict[str, Any]],
    worker_rows: list[dict[str, Any]],
    drained: float | None,
    drain_bound: float,
    consistency: dict[str, Any],
    span: float,
) -> list[Check]:
    """The soak's pass/fail checks, from its figures."""
    outcomes = summary["outcomes"]
    unanswered = outcomes["lost"] + outcomes["refused"]
    return [
        Check(
            "acknowledged events stored exactly once",
            bool(figures["exact"]),
            accounting_line(figures),
        ),
        Check(
            "every request acknowledged (retries on)",
            unanswered == 0,
            f"{outcomes['acked']:,} acknowledged, {unanswered:,} not; "
            + status_counts_line(summary),
        ),
        memory_check(
            f"Celery worker RSS flat (first vs last {span:.0f} s)",
            celery_rows,
            limit_pct=MEMORY_GROWTH_LIMIT_PCT,
        ),
        memory_check(
            f"gunicorn worker RSS flat (first vs last {span:.0f} s)",
            worker_rows,
            limit_pct=MEMORY_GROWTH_LIMIT_PCT,
        ),
        Check(
            "sessions caught up (aggregated_at ≥ last received_at, every event counted)",
            drained is not None and bool(consistency["consistent"]),
            (
                f"caught up {drained:.0f} s after the load stopped"
                if drained is not None
                else f"still behind after {drain_bound:.0f} s"
            )
            + f"; {consistency['reflected']:,} of {consistency['events']:,} events counted in "
            f"{consistency['sessions']:,} sessions",
        ),
    ]


def docs_lines(results: dict[str, Any]) -> list[str]:
    """The soak's section of docs/reliability-figures.md."""
    checks = [Check(**check) for check in results["checks"]]
    load = results["load"]
    latency = load["latency_ms"]
    probe = results["probe"]
    rate_source = (
        f"half the maximum of a {probe['window_s']:.0f} s closed-loop probe "
        f"({probe['events_per_s']:,.0f} events/s)"
        if probe
        else "given with --rate"
    )
    return [
        "## Soak: `make soak`",
        "",
        f"**{'PASS' if results['passed'] else 'FAIL'}.** {load['batch']}-event batches from "
        f"{load['clients']} clients paced at {results['rate']:,.0f} events/s ({rate_source}) "
        f"for {results['duration_s']:.0f} s: {load['events_per_s']:,.0f} events/s delivered, "
        f"latency p50 {latency['p50']:.0f} ms, p99 {latency['p99']:.0f} ms, max "
        f"{latency['max']:.0f} ms (from each request's scheduled time, retries included).",
        "",
        machine_line(results),
        "",
        *check_table(checks),
        "",
    ]


if __name__ == "__main__":
    sys.exit(main())
