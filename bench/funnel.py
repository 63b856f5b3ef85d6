"""`python -m bench.funnel`: the funnel runner on ~10 million events (target: ≤ 1 s warm).

Steps: provision `<name>_funnel_bench` the way `bench.database.prepare` provisions the
ingestion bench's database (roles, database, migrations as the owner, the bench tenant);
load `BENCH_FUNNEL_EVENTS` (default 10,000,000) events of `ingestion.generator`'s simulated
shop over 30 days for the one bench project; VACUUM ANALYZE; then run a 5-step session
funnel over the 30 days as the runtime role, in the tenant's org context (RLS applies):
once cold, then `BENCH_FUNNEL_RUNS` (3) warm runs. Results go to `.data/bench/funnel.json`.

Loading skips the HTTP path on purpose (it is measured by `make bench`): two processes
generate sessions (`simulate_session`, same seed, same events) and COPY them as the owner
into a temporary staging table, then move each chunk with two `INSERT ... SELECT`s (event
keys, events) in the tenant's org context, as `ingestion.writer` does: the owner is under
forced RLS too, and COPY refuses a table under RLS.

Knobs: `BENCH_FUNNEL_EVENTS`, `BENCH_FUNNEL_RUNS`, `BENCH_FUNNEL_KEEP=1` (keep the database
afterwards), `BENCH_FUNNEL_REUSE=1` (reuse a kept database of the same size and seed
instead of loading it again), `BENCH_FUNNEL_EXPLAIN=1` (add EXPLAIN ANALYZE of one run).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

TARGET_SECONDS = 1.0
DAYS = 30
END = datetime(2026, 11, 1, tzinfo=UTC)
SEED = 20261101
EVENTS_PER_SESSION = 38.9  # measured mean of `simulate_session` (5,000 sessions)
CHUNK_EVENTS = 200_000
PROCESSES = 2
STAGING = "funnel_bench_staging"


@dataclass(frozen=True)
class Dataset:
    """What was loaded, so that `BENCH_FUNNEL_REUSE=1` can check a kept database."""

    database: str
    org_id: int
    project_id: int
    sessions: int
    events: int
    seed: int
    end: str
    days: int
    load_seconds: float


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value else default


def funnel_database_name() -> str:
    """The configured database's name with `_funnel_bench` appended."""
    from django.conf import settings

    from productgraph.tenancy.provisioning import default_database

    return f"{default_database(settings.DATABASE_URLS)}_funnel_bench"


@contextmanager
def _bench_database(name: str) -> Iterator[None]:
    """Make `bench.database` provision `name` (it reads BENCH_DATABASE) for the block."""
    saved = os.environ.get("BENCH_DATABASE")
    os.environ["BENCH_DATABASE"] = name
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("BENCH_DATABASE", None)
        else:
            os.environ["BENCH_DATABASE"] = saved


def _attach(name: str) -> None:
    """Point Django's connections at the (kept) funnel bench database."""
    from django.conf import settings
    from django.db import connections

    for alias in ("default", "owner"):
        connections[alias].close()
        connections[alias].settings_dict["NAME"] = name
        settings.DATABASES[alias]["NAME"] = name


def _months(start: datetime, end: datetime) -> list[date]:
    months, month = [], start.date().replace(day=1)
    while month <= end.date():
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _rows(events: list[dict[str, Any]], *, org_id: int, project_id: int, agent: str):
    """Lay events out in `ingestion.ddl.COPY_COLUMNS` order (the generator's are valid)."""
    from ingestion.catalog import FIELDS

    keys = [(field.key, field.kind in ("json", "object")) for field in FIELDS]
    for event in events:
        row: list[Any] = []
        for key, is_json in keys:
            value = event.get(key)
            row.append(json.dumps(value) if is_json and value is not None else value)
        timestamp = event["event.timestamp"]
        row += [org_id, project_id, None, timestamp, agent]
        yield row


def _load_shard(
    owner_url: str, org_id: int, project_id: int, sessions: int, shard: int
) -> tuple[int, float]:
    """Generate and store the sessions of one shard; return (events, seconds)."""
    import psycopg

    from ingestion.ddl import COPY_COLUMNS
    from ingestion.generator import simulate_session

    columns = ", ".join(COPY_COLUMNS)
    now_ms = int(END.timestamp() * 1000)
    window_ms = DAYS * 86_400_000
    started = time.perf_counter()
    stored = 0
    with psycopg.connect(owner_url, autocommit=False) as connection:
        cursor = connection.cursor()
        cursor.execute(
            f"CREATE TEMP TABLE {STAGING} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {columns} FROM ingestion_event WITH NO DATA"
        )
        connection.commit()
        pending: list[tuple[str, list[dict[str, Any]]]] = []
        size = 0

        def flush() -> None:
            cursor.execute("SELECT set_config('app.current_org_id', %s, true)", [str(org_id)])
            with cursor.copy(f"COPY {STAGING} ({columns}) FROM STDIN") as copy:
                for agent, events in pending:
                    for row in _rows(events, org_id=org_id, project_id=project_id, agent=agent):
                        copy.write_row(row)
            cursor.execute(
                "INSERT INTO ingestion_eventkey (org_id, project_id, event_id, timestamp) "  # noqa: S608
                f"SELECT org_id, project_id, event_id, timestamp FROM {STAGING}"
            )
            cursor.execute(
                f"INSERT INTO ingestion_event ({columns}) SELECT {columns} FROM {STAGING}"  # noqa: S608
            )
            connection.commit()

        for index in range(shard, sessions, PROCESSES):
            agent, events = simulate_session(
                seed=SEED,
                index=index,
                sessions=sessions,
                now_ms=now_ms,
                window_ms=window_ms,
                project_id=None,
            )
            pending.append((agent, events))
            size += len(events)
            if size >= CHUNK_EVENTS:
                flush()
                stored += size
                pending, size = [], 0
        if pending:
            flush()
            stored += size
    return stored, time.perf_counter() - started


def load(*, report=print) -> Dataset:
    """Provision the funnel bench database and load the events; return what was loaded."""
    import psycopg
    from django.db import connections

    from bench import database

    target = _env_int("BENCH_FUNNEL_EVENTS", 10_000_000)
    sessions = max(1, round(target / EVENTS_PER_SESSION))
    name = funnel_database_name()
    with _bench_database(name):
        tenant = database.prepare(report=report)
    connections.close_all()
    started = time.perf_counter()
    with psycopg.connect(tenant.urls.owner, autocommit=True) as connection:
        for month in _months(END - timedelta(days=DAYS), END):
            connection.execute("SELECT productgraph_ensure_event_partition(%s)", [month])
    report(f"loading {sessions:,} sessions (~{target:,} events) with {PROCESSES} processes")
    context = multiprocessing.get_context("fork")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(
            _load_shard,
            [
                (tenant.urls.owner, tenant.org_id, tenant.project_id, sessions, shard)
                for shard in range(PROCESSES)
            ],
        )
    events = sum(count for count, _ in results)
    loaded = time.perf_counter() - started
    report(f"  {events:,} events in {loaded:.1f} s ({events / loaded:,.0f} events/s)")
    started = time.perf_counter()
    with psycopg.connect(tenant.urls.owner, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) ingestion_event")
        connection.execute("VACUUM (ANALYZE) ingestion_eventkey")
    report(f"  VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
    return Dataset(
        database=name,
        org_id=tenant.org_id,
        project_id=tenant.project_id,
        sessions=sessions,
        events=events,
        seed=SEED,
        end=END.isoformat(),
        days=DAYS,
        load_seconds=round(loaded, 1),
    )


def main() -> int:
    """Load (or reuse) the data, time the funnel, write `.data/bench/funnel.json`."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.conf import settings

    out_dir = Path(settings.PRODUCTGRAPH_DATA_DIR) / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    marker = out_dir / "funnel_dataset.json"
    dataset = load()
    marker.write_text(json.dumps(asdict(dataset), indent=2) + "\n")
    _attach(dataset.database)
    print(json.dumps(asdict(dataset), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
