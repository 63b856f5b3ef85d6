"""`python -m bench.soak` (`make soak`): ten minutes at half the maximum rate, nothing lost,
memory flat, sessions caught up (docs/reliability.md). Writes `.data/reliability/soak.json`
and its section of docs/reliability-figures.md; exits 1 if a check failed."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bench import database, options, reliability, report
from bench.reliability import Check, memory_check, stored_check
from bench.report import say
from bench.server import LoadRun, Sampler, Stack

MEMORY_GROWTH_LIMIT_PCT = 5.0
MEMORY_SPAN_S = 60.0
BATCH = 100


def soak(args: argparse.Namespace, command: str) -> int:
    out_dir = database.results_dir().parent / "reliability"
    load_before = report.load_average()
    say(f"soak: {command}")
    name = database.database_name("soak")
    say(f"preparing the soak database {name}")
    tenant = database.prepare(name, lambda line: say(f"  {line}"))
    probe_tenant = database.tenant_create(
        name, tenant.urls, slug="soak-probe", public_id="proj_soak_probe"
    )
    postgres_version, postmaster = database.server_facts(tenant)
    stack = Stack(tenant.urls, out_dir / "soak", args.workers, args.celery_concurrency)
    sampler = Sampler(stack, postmaster, name)
    runs: list[LoadRun] = []
    try:
        say(f"starting gunicorn ({args.workers} workers, production settings) and a Celery "
            f"worker ({args.celery_concurrency} processes) on a private Redis")  # fmt: skip
        stack.start()
        sampler.start()
        rate, probe = args.rate, None
        if not rate:
            say(f"probe: closed loop, {BATCH}-event batches, {args.probe:.0f} s")
            load = {"batch": BATCH, "clients": args.clients, "duration": args.probe}
            ledger = out_dir / "soak" / "probe-ledger.json"
            runs.append(LoadRun(stack.server.port, probe_tenant, load, ledger, grace=10).start())
            probe = runs[-1].wait()
            rate = round(probe["events_per_s"] / 2, 1)
            say(f"  maximum {probe['events_per_s']:,.0f} events/s")
        say(f"soak: {BATCH}-event batches paced at {rate:,.0f} events/s for {args.duration:.0f} s, "
            "retries on")  # fmt: skip
        database.owner_sql(tenant, "ANALYZE")  # as bench.run does before each phase
        ledger = out_dir / "soak" / "ledger.json"
        load = {"batch": BATCH, "clients": args.clients, "duration": args.duration, "warmup": 0,
                "rate": rate}  # fmt: skip
        runs.append(LoadRun(stack.server.port, tenant, load, ledger).start())
        summary = runs[-1].wait()
        say(f"  {summary['events_per_s']:,.0f} events/s; waiting for the sessions")
        drained = database.wait_for_sessions(tenant, bound=args.drain)
        sampler.stop()
        start, end = summary.pop("window_monotonic")
        span = min(MEMORY_SPAN_S, (end - start) / 3)
        celery_rows = sampler.memory_rows(start, end, span, celery=True)[0]
        worker_rows = sampler.memory_rows(start, end, span)[0]
        per_token, rows, distinct = database.stored_per_token(tenant, reliability.TOKEN_LENGTH)
        consistency = database.consistency(tenant)
    finally:
        for load_run in runs:
            load_run.stop()
        sampler.stop()
        stack.stop()
    acked = reliability.Ledger.read(ledger)
    figures = reliability.account(acked, per_token, rows=rows, distinct=distinct)
    checks = soak_checks(figures=figures, summary=summary, celery_rows=celery_rows,
                         worker_rows=worker_rows, drained=drained, drain_bound=args.drain,
                         consistency=consistency, span=span)  # fmt: skip
    results = {
        **report.header(command, postgres_version),
        "load_average_before": load_before, "load_average_after": report.load_average(),
        "passed": reliability.passed(checks), "checks": reliability.checks_json(checks),
        "duration_s": args.duration, "probe": probe, "rate": rate, "load": summary,
        "accounting": figures,
        "memory": {"span_s": round(span), "celery": celery_rows, "gunicorn": worker_rows},
        "sessions": {"drain_s": drained, "drain_bound_s": args.drain, **consistency},
    }  # fmt: skip
    report.dump(results, out_dir / "soak.json")
    if not args.keep_database:
        database.drop(name)
    say("\n" + "\n".join(reliability.check_table(checks)) + f"\nresults: {out_dir / 'soak.json'}")
    if args.docs:
        say(f"written: {reliability.write_docs('soak', docs_lines(results), args.docs_dir)}")
    return 0 if results["passed"] else 1


def soak_checks(*, figures: dict[str, Any], summary: dict[str, Any],
                celery_rows: list[dict[str, Any]], worker_rows: list[dict[str, Any]],
                drained: float | None, drain_bound: float, consistency: dict[str, Any],
                span: float) -> list[Check]:  # fmt: skip
    """The soak's pass/fail checks, from its figures."""
    caught_up = (f"caught up {drained:.0f} s after the load stopped" if drained is not None
                 else f"still behind after {drain_bound:.0f} s")  # fmt: skip
    return [
        stored_check("acknowledged events stored exactly once", figures),
        reliability.acked_check("every request acknowledged (retries on)", summary),
        memory_check(f"Celery worker RSS flat (first vs last {span:.0f} s)", celery_rows,
                     limit_pct=MEMORY_GROWTH_LIMIT_PCT),
        memory_check(f"gunicorn worker RSS flat (first vs last {span:.0f} s)", worker_rows,
                     limit_pct=MEMORY_GROWTH_LIMIT_PCT),
        Check("sessions caught up (aggregated_at ≥ last received_at, every event counted)",
              drained is not None and bool(consistency["consistent"]),
              f"{caught_up}; {consistency['reflected']:,} of {consistency['events']:,} events "
              f"counted in {consistency['sessions']:,} sessions"),
    ]  # fmt: skip


def docs_lines(results: dict[str, Any]) -> list[str]:
    checks = [Check(**check) for check in results["checks"]]
    load, probe = results["load"], results["probe"]
    latency = load["latency_ms"]
    rate_source = "given with --rate"
    if probe:
        rate_source = (f"half the maximum of a {probe['window_s']:.0f} s closed-loop probe "
                       f"({probe['events_per_s']:,.0f} events/s)")  # fmt: skip
    return [
        "## Soak: `make soak`",
        "",
        f"**{'PASS' if results['passed'] else 'FAIL'}.** {load['batch']}-event batches from "
        f"{load['clients']} clients paced at {results['rate']:,.0f} events/s ({rate_source}) "
        f"for {results['duration_s']:.0f} s: {load['events_per_s']:,.0f} events/s delivered, "
        f"latency p50 {latency['p50']:.0f} ms, p99 {latency['p99']:.0f} ms, max "
        f"{latency['max']:.0f} ms (from each request's scheduled time, retries included).",
        "",
        reliability.machine_line(results),
        "",
        *reliability.check_table(checks),
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = options.parse(options.SOAK, argv, __doc__.split("\n")[0])
    args.workers = args.workers or 2 * report.cpus()
    reliability.interruptible()
    try:
        return soak(args, options.command_line(options.SOAK, argv))
    except KeyboardInterrupt:
        say("interrupted: every process started was stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
