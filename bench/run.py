"""`python -m bench` (`make bench`): prepare the bench database, serve it (gunicorn with the
production settings, a Celery worker), load it phase by phase while watching the sessions
catch up, measure the raw COPY ceiling, write `.data/bench/results.json` and the page."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from bench import ceiling, database, options, report
from bench.report import say
from bench.server import SETTINGS, LoadRun, Sampler, Stack, cores_used
from bench.sessions import CELERY_APP_NAME, SessionWatch, phase_sessions


def run(args: argparse.Namespace, command: str) -> int:
    out_dir = database.results_dir()
    load_before = report.load_average()
    say(f"bench: {command}")
    say("preparing the bench database (roles, database, migrations as the owner, tenant)")
    name = args.database or database.database_name("bench")
    tenant = database.prepare(name, lambda line: say(f"  {line}"))
    # Write out what earlier work left dirty (a dataset loaded just before), so that its
    # checkpoint does not land in the phases.
    database.owner_sql(tenant, "CHECKPOINT", admin=True)
    postgres_version, postmaster = database.server_facts(tenant)
    stack = Stack(tenant.urls, out_dir, args.workers, args.celery_concurrency, args.worker_class,
                  args.threads, celery_env={"PGAPPNAME": CELERY_APP_NAME})  # fmt: skip
    sampler = Sampler(stack, postmaster, tenant.database)
    watch = None
    if args.celery_concurrency > 0:
        key, project, port = tenant.ingest_key, tenant.project_public_id, stack.server.port
        ids, urls = (tenant.org_id, tenant.project_id), (tenant.urls.runtime, stack.redis.url)
        watch = SessionWatch(port, key, project, *ids, *urls)
    stored, windows, phases = 0, [], []

    def cores(start: float, end: float) -> dict[str, float | None]:
        snapshots = sampler.between(start, end)
        if watch is None:
            return cores_used(snapshots)
        return cores_used(snapshots, celery_backends=watch.celery_backends,
                          ignored_backends=watch.watch_backends)  # fmt: skip

    def phase(name: str, batch: str, duration: float, rate: float = 0.0, door: str = "events"):
        """Run one load; with a worker, wait for the sessions to catch up."""
        nonlocal stored
        # ANALYZE as autovacuum keeps a live database analyzed; within a phase the events
        # table still grows faster than autovacuum follows (see the fold's seq. scan share).
        database.owner_sql(tenant, "ANALYZE")
        held, load_average = database.events_held(tenant), report.load_average()
        if watch is not None:
            watch.probing(name)
        load = {"batch": batch, "clients": args.clients, "duration": duration,
                "warmup": args.warmup, "rate": rate, "door": door}  # fmt: skip
        try:
            summary = LoadRun(stack.server.port, tenant, load).start().wait()
        finally:
            if watch is not None:
                watch.probing(None)
        stopped = time.monotonic()
        stored += summary["events_stored_total"]
        start, end = window = summary.pop("window_monotonic")
        windows.append(window)
        samples, cpu = sampler.between(start, end), cores(start, end)
        if cpu:
            cpu["load_generator"] = summary["load_cpu_cores"]
        result = {
            "name": name, **summary, "worker_peak_rss_mb": sampler.peak_mb(samples),
            "celery_peak_rss_mb": sampler.peak_mb(samples, celery=True), "cpu_cores": cpu,
            "load_average_before": load_average, "events_held_before": held,
        }  # fmt: skip
        say(f"  {report.phase_line(result)}")
        if watch is None:
            return result
        expected = stored + watch.marker_events
        drained = watch.drain(stored=expected, since=stopped, bound=args.drain)
        ended = time.monotonic()
        result["sessions"] = phase_sessions(
            markers=[marker for marker in watch.markers if marker.phase == name],
            readings=list(watch.readings), window=(start, end), stopped=stopped, ended=ended,
            drained=drained, bound=args.drain, expected=expected, cpu=cores(start, ended),
        )  # fmt: skip
        row = report.sessions_row(name, result["events_per_s"], result["sessions"])
        say(f"  sessions: lag p50 / p95 / max {' / '.join(row[3:6])}, folded {row[2]} events/s, "
            f"caught up after {row[8]}")  # fmt: skip
        return result

    batches = [int(size) for size in args.batches.split(",")]
    soak = consistency = None
    try:
        say(f"starting the Celery worker (celery -A productgraph worker, {args.celery_concurrency} "
            f"processes) and gunicorn ({SETTINGS}, {args.workers} x {args.worker_class} workers, "
            f"{args.threads} threads) on 127.0.0.1:{stack.server.port}")  # fmt: skip
        stack.start()
        sampler.start()
        if watch is not None:
            watch.start()
        say("warming up (100-event batches)")
        phase("warm-up", "100", args.duration / 4)
        for batch in batches:
            say(f"phase: {batch}-event batches, {args.clients} clients, {args.duration:.0f} s")
            phases.append(phase(f"{batch} per batch", str(batch), args.duration))
            if batch == 100:
                # Half the maximum just measured, at once: after the 1,000-event phase the
                # machine is still vacuuming and writing back its ~500,000 rows (p99 106-138
                # ms when the paced phase came last).
                rate = round(phases[-1]["events_per_s"] / 2, 1)
                say(f"phase: 100-event batches paced at half the maximum, {rate:,.0f} events/s")
                phases.append(
                    phase("100 per batch at half the max rate", "100", args.duration, rate)
                )
        for door in [name.strip() for name in (args.doors or "").split(",") if name.strip()]:
            say(f"phase: 1,000-event batches through {door}, {args.clients} clients")
            phases.append(phase(f"1000 per batch, {door}", "1000", args.duration, door=door))
        if args.soak > 0:
            mix = ",".join(map(str, batches))
            say(f"soak: batches of {mix} in turn, {args.soak:.0f} s, sampling worker memory")
            phases.append(phase("soak", mix, args.soak))
            start, end = windows[-1]
            span = min(60.0, (end - start) / 3)
            workers, seen = sampler.memory_rows(start, end, span)
            soak = {
                "seconds": round(end - start), "span_s": round(span), "batch": phases[-1]["batch"],
                "events_per_s": phases[-1]["events_per_s"], "workers": workers,
                "worker_restarts": max(0, seen - args.workers),
                "celery": sampler.memory_rows(start, end, span, celery=True)[0],
            }  # fmt: skip
        if watch is not None:
            consistency = database.consistency(tenant)
            drained = phases[-1]["sessions"]["drain_s"] is not None if phases else True
            say(f"  {report.consistency_line(consistency, drained=drained)}")
    finally:
        if watch is not None:
            watch.stop()
        sampler.stop()
        stack.stop()
    say(f"ceiling: raw COPY of {args.ceiling_rows:,} rows into a copy of the events table")
    rows = ceiling.ceiling_rows(count=args.ceiling_rows, batch=1000, org_id=tenant.org_id,
                                project_id=tenant.project_id, public_id=tenant.project_public_id,
                                slug=tenant.project_slug)  # fmt: skip
    held = [p["events_held_before"] for p in phases if p["batch"] == 1000 and p["mode"] == "closed"]
    roof = ceiling.measure(owner_url=tenant.urls.owner, rows=rows, batch=1000,
                           postmaster_pid=postmaster, database=tenant.database,
                           org_id=tenant.org_id, filled_rows=held[0] if held else None)  # fmt: skip
    del rows
    head = report.header(command, postgres_version, load_average_before=load_before,
                         load_average_after=report.load_average())  # fmt: skip
    if not args.keep_database:
        database.drop(tenant.database)
    server = " ".join(["gunicorn", *stack.server.command()[3:]])
    celery = stack.celery
    results: dict[str, Any] = {
        **head,
        "server": {
            "command": server.replace(f":{stack.server.port}", ":<free port>"),
            "settings": SETTINGS, "workers": args.workers, "worker_class": args.worker_class,
            "threads": args.threads, "conn_max_age": int(stack.env["CONN_MAX_AGE"]),
            "database": tenant.database,
        },
        "load": {"clients": args.clients, "duration_s": args.duration, "warmup_s": args.warmup,
                 "generator": "python -m bench.load (separate process, one thread per client)"},
        "sessions": None if celery is None or watch is None else {
            "worker": " ".join(["celery", *celery.command()[3:]]),
            "concurrency": celery.concurrency, "drain_bound_s": args.drain,
            "probe_interval_s": watch.probe_interval, "probe_failures": watch.probe_failures,
            "errors": watch.errors, "consistency": consistency,
        },
        "phases": phases,
        "ceiling": roof,
        "memory": {
            "peak_rss_mb_per_worker": sampler.peak_mb(),
            "celery_peak_rss_mb": sampler.peak_mb(celery=True),
            "soak": soak,
        },
    }  # fmt: skip
    results["ratio"] = report.ratio(results)
    results["cpu_ratio"] = report.cpu_ratio(results)
    results["targets"] = report.targets(results)
    report.dump(results, out_dir / "results.json")
    if soak is not None:
        report.dump(results, out_dir / "soak.json")
    say(f"\n{report.summary(results)}\nresults: {out_dir / 'results.json'}")
    if args.docs:
        say(f"written: {report.write_page(results, out_dir, args.docs_dir)}")
    failures = [phase["name"] for phase in phases if report.phase_problems(phase)]
    if failures:
        say(f"INVALID: requests failed or events were rejected in: {', '.join(failures)}")
        return 1
    return 1 if args.strict and any(t["passed"] is False for t in results["targets"]) else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = options.parse(options.BENCH, argv, __doc__.split("\n")[0])
    args.workers = args.workers or 2 * report.cpus()
    return run(args, options.command_line(options.BENCH, argv))
