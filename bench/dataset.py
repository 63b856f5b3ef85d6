"""A bench database of its own holding `ingestion.generator`'s shop over 30 days, by COPY.

Used by `python -m bench.funnel` (`<name>_funnel_bench`, ~10 million events) and
`python -m bench.journeys` (`<name>_journeys_bench`, 100,000 sessions): `prepared()`
provisions the database with `bench.database.prepare` (roles, database, migrations as the
owner, the bench tenant and its two journeys), loads `sessions` generated sessions and
VACUUM ANALYZEs them, or reuses a kept database that holds the same ones; `finished()`
drops it unless it is kept.

Loading skips the HTTP path on purpose (`make bench` measures that): two processes generate
the sessions (`generate_batches`' shards: same seed, same events) and COPY them as the owner into
an unlogged staging table (schema `bench_load`, dropped afterwards); then two
`INSERT ... SELECT`s (event keys, events) in the tenant's org context, as `ingestion.writer`
does (the owner is under forced RLS too, and COPY refuses a table under RLS), move them in
timestamp order. That is the order the write path stores a live project's events in, as they
arrive; session by session, as generated, every page of the table would hold events of the
whole month, and an index-only scan of a day's events would read the visibility map of all of
it (1.1 million buffer reads for the bench funnels' 1.2 million page views, against 42,000).
Only events are written: no session rows, no journey rows (`bench.journeys` builds those).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

DAYS = 30
END = datetime(2026, 11, 1, tzinfo=UTC)
SEED = 20261101
EVENTS_PER_SESSION = 38.9  # measured mean of `simulate_session` (5,000 sessions)
CHUNK_EVENTS = 200_000  # per COPY into the staging table, one transaction
BATCH_EVENTS = 10_000  # per generated batch (one User-Agent)
PROCESSES = 2
STAGING = "bench_load.events"
LAYOUT = "timestamp order"


@dataclass(frozen=True)
class Dataset:
    """What was loaded, so that a later run can check a kept database before reusing it."""

    database: str
    org_id: int
    project_id: int
    sessions: int
    events: int
    seed: int
    end: str
    days: int
    load_seconds: float
    table_size: str
    # How rows were stored: a database kept by a loader that stored them otherwise (each
    # session whole; its marker has no `layout`) is loaded again, not reused.
    layout: str


def env_int(name: str, default: int) -> int:
    """The integer in environment variable `name`, or `default` when it is unset or empty."""
    value = os.environ.get(name, "")
    return int(value) if value else default


def say(line: str) -> None:
    """Print a progress line at once."""
    print(line, flush=True)


def database_name(kind: str) -> str:
    """The configured database's name with `_<kind>_bench` appended."""
    from django.conf import settings

    from productgraph.tenancy.provisioning import default_database

    return f"{default_database(settings.DATABASE_URLS)}_{kind}_bench"


def marker_path(kind: str) -> Path:
    """`.data/bench/<kind>_dataset.json`: the kept dataset's description."""
    from django.conf import settings

    return Path(settings.PRODUCTGRAPH_DATA_DIR) / "bench" / f"{kind}_dataset.json"


def _months(start: datetime, end: datetime) -> list[date]:
    months, month = [], start.date().replace(day=1)
    while month <= end.date():
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _rows(
    events: list[dict[str, Any]], *, org_id: int, project_id: int, agent: str
) -> Iterator[list[Any]]:
    """Lay events out in `ingestion.ddl.COPY_COLUMNS` order (the generator's are valid)."""
    from ingestion.catalog import FIELDS

    keys = [(field.key, field.kind in ("json", "object")) for field in FIELDS]
    for event in events:
        row: list[Any] = []
        for key, is_json in keys:
            value = event.get(key)
            row.append(json.dumps(value) if is_json and value is not None else value)
        row += [org_id, project_id, None, event["event.timestamp"], agent]
        yield row


def _load_shard(
    owner_url: str, org_id: int, project_id: int, sessions: int, shard: int
) -> tuple[int, float]:
    """Generate the sessions of one shard into the staging table; return (events, seconds)."""
    import psycopg

    from ingestion.ddl import COPY_COLUMNS
    from ingestion.generator import generate_batches

    columns = ", ".join(COPY_COLUMNS)  # from the catalog
    started = time.perf_counter()
    stored = 0
    with psycopg.connect(owner_url, autocommit=False) as connection:
        cursor = connection.cursor()
        pending: list[tuple[str, list[dict[str, Any]]]] = []

        def flush() -> int:
            with cursor.copy(f"COPY {STAGING} ({columns}) FROM STDIN") as copy:
                for agent, events in pending:
                    for row in _rows(events, org_id=org_id, project_id=project_id, agent=agent):
                        copy.write_row(row)
            connection.commit()
            count = sum(len(events) for _, events in pending)
            pending.clear()
            return count

        size = 0
        for batch in generate_batches(
            sessions=sessions,
            days=DAYS,
            seed=SEED,
            now=END,
            max_events=BATCH_EVENTS,
            shard=shard,
            shards=PROCESSES,
        ):
            pending.append((batch.user_agent, batch.events))
            size += len(batch.events)
            if size >= CHUNK_EVENTS:
                stored += flush()
                size = 0
        if pending:
            stored += flush()
    return stored, time.perf_counter() - started


def _move_in_timestamp_order(owner_url: str, org_id: int) -> None:
    """Insert the staged events' keys and the events, in timestamp order, then drop them."""
    import psycopg

    from ingestion.ddl import COPY_COLUMNS

    columns = ", ".join(COPY_COLUMNS)  # from the catalog
    with psycopg.connect(owner_url, autocommit=False) as connection:
        connection.execute("SELECT set_config('app.current_org_id', %s, true)", [str(org_id)])
        connection.execute("SELECT set_config('work_mem', '1GB', true)")
        connection.execute(
            "INSERT INTO ingestion_eventkey (org_id, project_id, event_id, timestamp) "  # noqa: S608
            f"SELECT org_id, project_id, event_id, timestamp FROM {STAGING} ORDER BY timestamp"
        )
        connection.execute(
            f"INSERT INTO ingestion_event ({columns}) "  # noqa: S608
            f"SELECT {columns} FROM {STAGING} ORDER BY timestamp, event_id"
        )
        connection.execute("DROP SCHEMA bench_load CASCADE")
        connection.commit()


def load(*, database: str, sessions: int, report: Callable[[str], None] = say) -> Dataset:
    """Provision `database` with the bench tenant and load `sessions` generated sessions."""
    import psycopg
    from django.db import connections

    from bench import database as bench_database
    from ingestion.ddl import COPY_COLUMNS

    tenant = bench_database.prepare(report=report, database=database)
    connections.close_all()
    started = time.perf_counter()
    with psycopg.connect(tenant.urls.owner, autocommit=True) as connection:
        for month in _months(END - timedelta(days=DAYS), END):
            connection.execute("SELECT productgraph_ensure_event_partition(%s)", [month])
        connection.execute("DROP SCHEMA IF EXISTS bench_load CASCADE")
        connection.execute("CREATE SCHEMA bench_load")
        connection.execute(
            f"CREATE UNLOGGED TABLE {STAGING} AS SELECT {', '.join(COPY_COLUMNS)}"  # noqa: S608
            " FROM ingestion_event WITH NO DATA"
        )
    report(
        f"loading {sessions:,} sessions (~{round(sessions * EVENTS_PER_SESSION):,} events) "
        f"with {PROCESSES} processes"
    )
    context = multiprocessing.get_context("fork")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(
            _load_shard,
            [
                (tenant.urls.owner, tenant.org_id, tenant.project_id, sessions, shard)
                for shard in range(PROCESSES)
            ],
        )
    _move_in_timestamp_order(tenant.urls.owner, tenant.org_id)
    events = sum(count for count, _ in results)
    loaded = time.perf_counter() - started
    report(f"{events:,} events in {loaded:.1f} s ({events / loaded:,.0f} events/s)")
    started = time.perf_counter()
    with psycopg.connect(tenant.urls.owner, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) ingestion_event")
        connection.execute("VACUUM (ANALYZE) ingestion_eventkey")
        row = connection.execute(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid)))"
            " FROM pg_inherits WHERE inhparent = 'ingestion_event'::regclass"
        ).fetchone()
    report(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
    return Dataset(
        database=database,
        org_id=tenant.org_id,
        project_id=tenant.project_id,
        sessions=sessions,
        events=events,
        seed=SEED,
        end=END.isoformat(),
        days=DAYS,
        load_seconds=round(loaded, 1),
        table_size=str(row[0]) if row else "unknown",
        layout=LAYOUT,
    )


def reusable(marker: Path, *, database: str, sessions: int) -> Dataset | None:
    """The kept dataset described by `marker`, if it is the one this run would load."""
    import psycopg
    from django.conf import settings

    try:
        dataset = Dataset(**json.loads(marker.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if (dataset.database, dataset.sessions, dataset.seed, dataset.layout) != (
        database,
        sessions,
        SEED,
        LAYOUT,
    ):
        return None
    urls = settings.DATABASE_URLS
    # The maintenance database: the configured one need not exist (a machine that only ran
    # `make bench` has the bench databases alone).
    with psycopg.connect(urls.admin or urls.owner, dbname="postgres") as connection:
        row = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dataset.database])
        return dataset if row.fetchone() else None


def prepared(
    kind: str, *, sessions: int, reuse: bool, report: Callable[[str], None] = say
) -> Dataset:
    """Reuse the kept `<name>_<kind>_bench` if asked and it holds these sessions, else load
    it; point Django's connections at it; return what it holds."""
    from bench import database as bench_database

    name = database_name(kind)
    marker = marker_path(kind)
    marker.parent.mkdir(parents=True, exist_ok=True)
    kept = reusable(marker, database=name, sessions=sessions) if reuse else None
    if kept is None:
        marker.unlink(missing_ok=True)  # a failed load must not leave it describing the database
        dataset = load(database=name, sessions=sessions, report=report)
        marker.write_text(json.dumps(asdict(dataset), indent=2) + "\n")
    else:
        dataset = kept
        report(f"reusing {dataset.database} ({dataset.events:,} events)")
    bench_database.attach(dataset.database)
    if kept is not None:
        # A kept dataset gets the migrations of the code under test (e.g. a new index).
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", database="owner", interactive=False, verbosity=0)
        connections["owner"].close()
    return dataset


def finished(kind: str, dataset: Dataset, *, keep: bool) -> None:
    """Drop the dataset's database and forget it, unless it is to be kept for reuse."""
    from django.db import connections

    from bench import database as bench_database
    from productgraph.tenancy.provisioning import drop_database

    if keep:
        return
    connections.close_all()
    drop_database(bench_database.database_urls(dataset.database), database=dataset.database)
    marker_path(kind).unlink(missing_ok=True)


def run_facts(*, command: str, load_before: list[float]) -> dict[str, Any]:
    """When, what and on what a bench ran (its results' header); call it at the end."""
    from django.db import connections

    from bench.__main__ import cpus
    from bench.run import git_revision, machine_info

    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        server_version = cursor.fetchone()[0]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "commit": git_revision(),
        "machine": {
            **machine_info(cpus=cpus(), postgres_version=str(server_version)),
            "load_average_before": load_before,
            "load_average_after": load_average(),
        },
    }


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages, rounded."""
    return [round(value, 2) for value in os.getloadavg()]


def write_results(name: str, results: dict[str, Any]) -> Path:
    """Write `.data/bench/<name>.json`; return its path."""
    from django.conf import settings

    path = Path(settings.PRODUCTGRAPH_DATA_DIR) / "bench" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path
