"""`python -m bench.journeys`: sessions folded, and journeys refreshed, over 100,000 sessions.

Steps: `bench.dataset` provisions `<name>_journeys_bench` (roles, database, migrations as the
owner, the bench tenant and the two journeys its visits walk, `bench.database.JOURNEYS`) and
COPYs `BENCH_JOURNEY_SESSIONS` (100,000) generated sessions over 30 days into it, events
only. Then, as the runtime role in the tenant's org context (RLS applies):

1. **Fold**: every session with events (`ingestion.selectors.sessions_with_events`) folded
   with `sessions.services.sessions_fold` in batches of `aggregate_sessions`' size (500), one
   transaction each, as `aggregate_sessions` does; every fold also matches the journeys.
   The clock of the folds is the dataset's end, so the sessions active then are pending.
2. **Full refresh** (`journeys.services.journeys_refresh_project`, what `refresh_journeys`
   runs): every session re-matched, then the metrics; target ≤ 30 s. Twice: first on new
   connections after the fold, then again (warm).
3. **Beat's refresh** (`journeys.refresh_org`, called in-process) after them, when no
   journey was saved since: the pending sessions re-matched, every journey's metrics
   recomputed. Then the metrics alone.

A reused database (`BENCH_JOURNEY_REUSE=1`) has its session and journey rows truncated
first, so every run folds into empty tables. Results go to `.data/bench/journeys.json`.

Knobs: `BENCH_JOURNEY_SESSIONS` (100000), `BENCH_JOURNEY_KEEP=1` (keep the database
afterwards), `BENCH_JOURNEY_REUSE=1` (reuse a kept database of the same size instead of
loading it again).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from bench.dataset import Dataset, env_int, load_average, say

TARGET_SECONDS = 30.0
PROGRESS_EVERY = 40  # fold batches between progress lines


def options() -> dict[str, Any]:
    """The knobs, from the environment."""
    return {
        "sessions": max(1, env_int("BENCH_JOURNEY_SESSIONS", 100_000)),
        "keep": os.environ.get("BENCH_JOURNEY_KEEP") == "1",
        "reuse": os.environ.get("BENCH_JOURNEY_REUSE") == "1",
    }


def _backend() -> Any:
    """The PostgreSQL backend serving Django's default connection, if it runs here."""
    import psutil
    from django.db import connection

    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        process = psutil.Process(pid)
        return process if "postgres" in process.name() else None
    except psutil.Error:
        return None


def _cpu_s(process: Any) -> float | None:
    import psutil

    try:
        times = process.cpu_times()
    except (psutil.Error, AttributeError):
        return None
    return float(times.user + times.system)


def _timed(step: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    """Run `step`; return its result, its seconds and CPU seconds (this process, and its
    PostgreSQL backend when local: what the step cost, whatever else ran), and the load
    average around it."""
    before, backend = load_average(), _backend()
    backend_before, client_before = _cpu_s(backend), time.process_time()
    started = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - started
    backend_after = _cpu_s(backend)
    return result, {
        "seconds": round(seconds, 3),
        "cpu_s": {
            "client": round(time.process_time() - client_before, 2),
            "postgres": None
            if backend_before is None or backend_after is None
            else round(backend_after - backend_before, 2),
        },
        "load_average_before": before,
        "load_average_after": load_average(),
    }


def _empty_rows(dataset: Dataset) -> None:
    """Truncate the session and journey rows a kept database has (as the owner, no RLS)."""
    from django.db import connections

    from journeys.models import SessionJourney
    from sessions.models import Session

    tables = f"{SessionJourney._meta.db_table}, {Session._meta.db_table}"
    with connections["owner"].cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables}")  # table names from model metadata
        cursor.execute(f"VACUUM (ANALYZE) {tables}")
    connections["owner"].close()


def _analyze() -> None:
    """ANALYZE the new session and journey rows, as autovacuum would soon after the folds."""
    from django.db import connections

    from journeys.models import SessionJourney
    from sessions.models import Session

    with connections["owner"].cursor() as cursor:
        cursor.execute(f"ANALYZE {Session._meta.db_table}, {SessionJourney._meta.db_table}")
    connections["owner"].close()


def fold(dataset: Dataset) -> dict[str, Any]:
    """Fold every session of the bench project, `aggregate_sessions`' batch at a time."""
    from django.db import transaction

    from ingestion.selectors import sessions_with_events
    from productgraph.tenancy.context import org_context
    from sessions.management.commands.aggregate_sessions import CHUNK
    from sessions.services import sessions_fold

    end = datetime.fromisoformat(dataset.end)
    scope = {"org_id": dataset.org_id, "project_id": dataset.project_id}

    def listed() -> list[str]:
        with transaction.atomic(), org_context(dataset.org_id):
            return sessions_with_events(org_id=dataset.org_id, project_id=dataset.project_id)

    def folded() -> int:
        written, started = 0, time.perf_counter()
        for batch, start in enumerate(range(0, len(ids), CHUNK), start=1):
            with transaction.atomic(), org_context(dataset.org_id):
                written += sessions_fold(**scope, session_ids=ids[start : start + CHUNK], now=end)
            if batch % PROGRESS_EVERY == 0:
                rate = written / (time.perf_counter() - started)
                say(f"  {written:,} of {len(ids):,} sessions folded ({rate:,.0f} sessions/s)")
        return written

    ids, listing = _timed(listed)
    written, folding = _timed(folded)
    seconds = listing["seconds"] + folding["seconds"]
    return {
        "batch": CHUNK,
        "sessions": len(ids),
        "session_rows": written,
        "events": dataset.events,
        "list_s": listing["seconds"],
        "fold_s": folding["seconds"],
        "seconds": round(seconds, 3),
        "cpu_s": {
            part: None
            if listing["cpu_s"][part] is None or folding["cpu_s"][part] is None
            else round(listing["cpu_s"][part] + folding["cpu_s"][part], 2)
            for part in ("client", "postgres")
        },
        "events_per_s": round(dataset.events / seconds),
        "sessions_per_s": round(len(ids) / seconds),
        "load_average_before": listing["load_average_before"],
        "load_average_after": folding["load_average_after"],
    }


def _rows(dataset: Dataset) -> dict[str, Any]:
    """What the folds left: session rows, events counted in them, journey rows by status."""
    from django.db import transaction
    from django.db.models import Count, Sum

    from journeys.models import Journey, SessionJourney
    from productgraph.tenancy.context import org_context
    from sessions.models import Session

    scope = {"org_id": dataset.org_id, "project_id": dataset.project_id}
    with transaction.atomic(), org_context(dataset.org_id):
        sessions = Session.objects.filter(**scope).aggregate(
            rows=Count("pk"), events=Sum("event_count")
        )
        by_status: dict[str, dict[str, int]] = {}
        for key, status, count in (
            SessionJourney.objects.filter(**scope)
            .values_list("journey__key", "status")
            .annotate(count=Count("pk"))
            .order_by("journey__key", "status")
        ):
            by_status.setdefault(key, {})[status] = count
        journeys = list(Journey.objects.filter(**scope).values_list("key", flat=True))
    return {
        "session_rows": sessions["rows"],
        "events_counted": sessions["events"] or 0,
        "journeys": {key: by_status.get(key, {}) for key in sorted(journeys)},
    }


def refresh_org(dataset: Dataset) -> dict[str, Any]:
    """Beat's path: `journeys.refresh_org` (pending sessions re-matched, every metric)."""
    from journeys.tasks import refresh_org as task

    pending = sum(by_status.get("pending", 0) for by_status in _rows(dataset)["journeys"].values())
    rematched, timing = _timed(lambda: task(dataset.org_id))
    return {"pending_rows": pending, "rows_rematched": rematched, **timing}


def refresh_project(dataset: Dataset, *, rematch: bool = True) -> dict[str, Any]:
    """`journeys_refresh_project` in one transaction, in the org's context."""
    from django.db import transaction

    from journeys.services import journeys_refresh_project
    from productgraph.tenancy.context import org_context

    def refresh() -> int:
        with transaction.atomic(), org_context(dataset.org_id):
            return journeys_refresh_project(
                org_id=dataset.org_id, project_id=dataset.project_id, rematch=rematch
            )

    written, timing = _timed(refresh)
    return {"rows_written": written, **timing}


def measure(dataset: Dataset) -> dict[str, Any]:
    """Fold, beat's refresh, the full refresh twice and the metrics alone; with the rows."""
    from django.db import connections

    say(f"folding {dataset.sessions:,} sessions ({dataset.events:,} events)")
    folded = fold(dataset)
    say(
        f"  folded in {folded['seconds']:.1f} s: {folded['events_per_s']:,} events/s, "
        f"{folded['sessions_per_s']:,} sessions/s"
    )
    _analyze()
    rows = _rows(dataset)
    refreshes = []
    for run in ("first", "warm"):
        if run == "first":
            connections.close_all()
        say(f"journeys_refresh_project ({run})")
        refreshes.append({"run": run, **refresh_project(dataset)})
        say(f"  {refreshes[-1]['seconds']:.1f} s, {refreshes[-1]['rows_written']:,} rows")
    # After a full refresh, as in a live project: beat re-matches every session only after
    # a journey was saved since the last refresh (the dataset's journeys are new).
    say("journeys.refresh_org (beat)")
    beat = refresh_org(dataset)
    say(f"  {beat['seconds']:.2f} s ({beat['pending_rows']:,} pending rows re-matched)")
    metrics = refresh_project(dataset, rematch=False)
    say(f"metrics alone: {metrics['seconds']:.2f} s")
    return {
        "fold": folded,
        "rows": rows,
        "refresh_org": beat,
        "refresh": refreshes,
        "metrics_only": metrics,
    }


def main() -> int:
    """Load (or reuse) the sessions, measure, write `.data/bench/journeys.json`."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from bench import dataset as data

    knobs = options()
    load_before = load_average()
    say("bench.journeys: session folds and journey refreshes on the bench shop's sessions")
    dataset = data.prepared(
        "journeys",
        sessions=knobs["sessions"],
        reuse=knobs["reuse"],
        report=lambda line: say(f"  {line}"),
    )
    _empty_rows(dataset)
    measured = measure(dataset)
    slowest = max(run["seconds"] for run in measured["refresh"])
    results = {
        **data.run_facts(command="python -m bench.journeys", load_before=load_before),
        "dataset": asdict(dataset),
        "target_s": TARGET_SECONDS,
        **measured,
        "meets_target": slowest <= TARGET_SECONDS,
    }
    say(f"wrote {data.write_results('journeys', results)}")
    data.finished("journeys", dataset, keep=knobs["keep"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
