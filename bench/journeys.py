"""`python -m bench.journeys`: every session folded, then journeys refreshed, over 100,000
generated sessions, as the runtime role in the org (docs/performance.md, step 8)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

import psutil
from django.db import connection, connections, transaction
from django.db.models import Count, Sum

from bench import database, options, report
from bench.database import Dataset
from bench.report import say
from ingestion.selectors import sessions_with_events
from journeys.models import Journey, SessionJourney
from journeys.services import journeys_refresh_project
from journeys.tasks import refresh_org
from productgraph.tenancy.context import org_context
from sessions.models import Session
from sessions.services import FOLD_BATCH, sessions_fold

TARGET_SECONDS = 30.0
PROGRESS_EVERY = 40  # fold batches between progress lines


def _cpu_s(process: psutil.Process | None) -> float | None:
    try:
        times = process.cpu_times()  # type: ignore[union-attr]
    except (psutil.Error, AttributeError):
        return None
    return float(times.user + times.system)


def _backend() -> psutil.Process | None:
    """The PostgreSQL backend serving Django's default connection, if it runs here."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        process = psutil.Process(pid)
        return process if "postgres" in process.name() else None
    except psutil.Error:
        return None


def timed(step: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    """Run `step`; return its result, its seconds and CPU seconds (this process, and its
    PostgreSQL backend when local: what it cost, whatever else ran) and the load averages."""
    before, backend = report.load_average(), _backend()
    backend_before = _cpu_s(backend)
    client_before, started = time.process_time(), time.perf_counter()
    result = step()
    seconds, backend_after = time.perf_counter() - started, _cpu_s(backend)
    postgres = None
    if backend_before is not None and backend_after is not None:
        postgres = round(backend_after - backend_before, 2)
    cpu = {"client": round(time.process_time() - client_before, 2), "postgres": postgres}
    return result, {"seconds": round(seconds, 3), "cpu_s": cpu, "load_average_before": before,
                    "load_average_after": report.load_average()}  # fmt: skip


def _in_org(dataset: Dataset, step: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with transaction.atomic(), org_context(dataset.org_id):
            return step()

    return run


def fold(dataset: Dataset) -> dict[str, Any]:
    """Fold every session of the bench project, `FOLD_BATCH` at a time."""
    end = datetime.fromisoformat(dataset.end)
    scope: dict[str, Any] = {"org_id": dataset.org_id, "project_id": dataset.project_id}

    def folded() -> int:
        written, started = 0, time.perf_counter()
        chunks = [ids[start : start + FOLD_BATCH] for start in range(0, len(ids), FOLD_BATCH)]
        for batch, chunk in enumerate(chunks, start=1):
            with transaction.atomic(), org_context(dataset.org_id):
                written += sessions_fold(**scope, session_ids=chunk, now=end)
            if batch % PROGRESS_EVERY == 0:
                rate = written / (time.perf_counter() - started)
                say(f"  {written:,} of {len(ids):,} sessions folded ({rate:,.0f} sessions/s)")
        return written

    ids, listing = timed(_in_org(dataset, lambda: sessions_with_events(**scope)))
    written, folding = timed(folded)
    seconds = listing["seconds"] + folding["seconds"]
    cpu = {part: None if listing["cpu_s"][part] is None or folding["cpu_s"][part] is None
           else round(listing["cpu_s"][part] + folding["cpu_s"][part], 2)
           for part in ("client", "postgres")}  # fmt: skip
    return {
        "batch": FOLD_BATCH, "sessions": len(ids), "session_rows": written,
        "events": dataset.events, "list_s": listing["seconds"], "fold_s": folding["seconds"],
        "seconds": round(seconds, 3), "cpu_s": cpu, "events_per_s": round(dataset.events / seconds),
        "sessions_per_s": round(len(ids) / seconds),
        "load_average_before": listing["load_average_before"],
        "load_average_after": folding["load_average_after"],
    }  # fmt: skip


def rows(dataset: Dataset) -> dict[str, Any]:
    """What the folds left: session rows, events counted in them, journey rows by status."""
    scope: dict[str, Any] = {"org_id": dataset.org_id, "project_id": dataset.project_id}

    def read() -> dict[str, Any]:
        totals = {"rows": Count("pk"), "events": Sum("event_count")}
        sessions = Session.objects.filter(**scope).aggregate(**totals)
        counted = (SessionJourney.objects.filter(**scope).values_list("journey__key", "status")
                   .annotate(count=Count("pk")).order_by("journey__key", "status"))  # fmt: skip
        by_status: dict[str, dict[str, int]] = {}
        for key, status, count in counted:
            by_status.setdefault(key, {})[status] = count
        keys = sorted(Journey.objects.filter(**scope).values_list("key", flat=True))
        return {"session_rows": sessions["rows"], "events_counted": sessions["events"] or 0,
                "journeys": {key: by_status.get(key, {}) for key in keys}}  # fmt: skip

    return _in_org(dataset, read)()  # type: ignore[no-any-return]


def refresh(dataset: Dataset, *, rematch: bool = True) -> dict[str, Any]:
    """`journeys_refresh_project` in one transaction, in the org's context."""
    scope: dict[str, Any] = {"org_id": dataset.org_id, "project_id": dataset.project_id}
    refreshed = _in_org(dataset, lambda: journeys_refresh_project(**scope, rematch=rematch))
    written, timing = timed(refreshed)
    return {"rows_written": written, **timing}


def measure(dataset: Dataset) -> dict[str, Any]:
    """Fold, the full refresh twice, beat's refresh and the metrics alone; with the rows."""
    tables = f"{SessionJourney._meta.db_table}, {Session._meta.db_table}"
    with connections["owner"].cursor() as cursor:  # a kept database's rows go first
        cursor.execute(f"TRUNCATE {tables}")  # table names from model metadata
        cursor.execute(f"VACUUM (ANALYZE) {tables}")
    say(f"folding {dataset.sessions:,} sessions ({dataset.events:,} events)")
    folded = fold(dataset)
    say(f"  folded in {folded['seconds']:.1f} s: {folded['events_per_s']:,} events/s, "
        f"{folded['sessions_per_s']:,} sessions/s")  # fmt: skip
    with connections["owner"].cursor() as cursor:  # as autovacuum would soon after the folds
        cursor.execute(f"ANALYZE {tables}")
    connections["owner"].close()
    after = rows(dataset)
    refreshes = []
    for run in ("first", "warm"):
        if run == "first":
            connections.close_all()
        say(f"journeys_refresh_project ({run})")
        refreshes.append({"run": run, **refresh(dataset)})
        say(f"  {refreshes[-1]['seconds']:.1f} s, {refreshes[-1]['rows_written']:,} rows")
    # As in a live project: beat re-matches every session only after a journey was saved
    # since the last refresh; after a full refresh, only the pending ones.
    say("journeys.refresh_org (beat)")
    pending = sum(statuses.get("pending", 0) for statuses in rows(dataset)["journeys"].values())
    rematched, timing = timed(lambda: refresh_org(dataset.org_id))
    beat = {"pending_rows": pending, "rows_rematched": rematched, **timing}
    say(f"  {beat['seconds']:.2f} s ({pending:,} pending rows re-matched)")
    metrics = refresh(dataset, rematch=False)
    say(f"metrics alone: {metrics['seconds']:.2f} s")
    return {"fold": folded, "rows": after, "refresh_org": beat, "refresh": refreshes,
            "metrics_only": metrics}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Load (or reuse) the sessions, measure, write `.data/bench/journeys.json`."""
    args = options.parse(options.JOURNEYS, argv, __doc__.split("\n")[0])
    load_before = report.load_average()
    say("bench.journeys: session folds and journey refreshes on the bench shop's sessions")
    dataset = database.prepared("journeys", sessions=max(1, args.sessions), reuse=args.reuse,
                                report=lambda line: say(f"  {line}"))  # fmt: skip
    measured = measure(dataset)
    results = {
        **report.header("python -m bench.journeys", database.server_version(),
                        load_average_before=load_before, load_average_after=report.load_average()),
        "dataset": asdict(dataset),
        "target_s": TARGET_SECONDS,
        **measured,
        "meets_target": max(run["seconds"] for run in measured["refresh"]) <= TARGET_SECONDS,
    }  # fmt: skip
    report.dump(results, database.results_dir() / "journeys.json")
    say(f"wrote {database.results_dir() / 'journeys.json'}")
    database.finished("journeys", dataset, keep=args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
