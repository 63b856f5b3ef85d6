"""`python -m bench.funnel`: the funnel runner on ~10 million events (target: ≤ 1 s warm).

Steps: provision `<name>_funnel_bench` with `bench.database.prepare` (roles, database,
migrations as the owner, the bench tenant), as the ingestion bench provisions its own
database; load `BENCH_FUNNEL_EVENTS` (default 10,000,000) events of `ingestion.generator`'s
simulated shop over 30 days into the one bench project; VACUUM ANALYZE; then run two 5-step
session funnels over the 30 days as the runtime role, in the tenant's org context (RLS
applies): once cold, then `BENCH_FUNNEL_RUNS` (3) times warm. Results go to
`.data/bench/funnel.json`.

Loading skips the HTTP path on purpose (`make bench` measures that): two processes generate
the sessions (`simulate_session`: same seed, same events) and COPY them as the owner into a
temporary staging table, then move each chunk with two `INSERT ... SELECT`s (event keys,
events) in the tenant's org context, as `ingestion.writer` does: the owner is under forced
RLS too, and COPY refuses a table under RLS.

Knobs: `BENCH_FUNNEL_EVENTS`, `BENCH_FUNNEL_RUNS`, `BENCH_FUNNEL_KEEP=1` (keep the database
afterwards), `BENCH_FUNNEL_REUSE=1` (reuse a kept database of the same size instead of
loading it again), `BENCH_FUNNEL_EXPLAIN=1` (add EXPLAIN ANALYZE of each funnel),
`BENCH_FUNNEL_SUGGESTED_INDEX=1` (then build `SUGGESTED_INDEX` and time the funnels again).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
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
# Measured here: the 30-day funnels read 1.2 million page views scattered over 3.9 GB of
# heap; with this index they are read from the index alone (see the report).
SUGGESTED_INDEX = (
    "CREATE INDEX ingestion_event_type_covering ON ingestion_event "
    "(project_id, event_type, timestamp) "
    "INCLUDE (org_id, session_id, user_id, anonymous_id, event_id, page_path)"
)


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
    table_size: str


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value else default


def _say(line: str) -> None:
    print(line, flush=True)


def funnel_database_name() -> str:
    """The configured database's name with `_funnel_bench` appended."""
    from django.conf import settings

    from productgraph.tenancy.provisioning import default_database

    return f"{default_database(settings.DATABASE_URLS)}_funnel_bench"


def _urls(database: str):
    """The configured URLs, pointed at `database`."""
    from dataclasses import replace

    from django.conf import settings

    from productgraph.tenancy.roles import url_password, url_user, with_credentials

    urls = settings.DATABASE_URLS

    def rename(url: str) -> str:
        return with_credentials(
            url, user=url_user(url), password=url_password(url), database=database
        )

    return replace(urls, runtime=rename(urls.runtime), owner=rename(urls.owner))


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
    """Point Django's connections at the funnel bench database."""
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
    """Generate and store the sessions of one shard; return (events, seconds)."""
    import psycopg

    from ingestion.ddl import COPY_COLUMNS
    from ingestion.generator import simulate_session

    columns = ", ".join(COPY_COLUMNS)  # from the catalog
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

        def flush() -> int:
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
            count = sum(len(events) for _, events in pending)
            pending.clear()
            return count

        size = 0
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
                stored += flush()
                size = 0
        if pending:
            stored += flush()
    return stored, time.perf_counter() - started


def load(*, report: Callable[[str], None] = _say) -> Dataset:
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
        database=name,
        org_id=tenant.org_id,
        project_id=tenant.project_id,
        sessions=sessions,
        events=events,
        seed=SEED,
        end=END.isoformat(),
        days=DAYS,
        load_seconds=round(loaded, 1),
        table_size=str(row[0]) if row else "unknown",
    )


def _page_view(path: str) -> list[dict[str, Any]]:
    return [
        {"field": "event.type", "op": "eq", "value": "page.view"},
        {"field": "page.path", "op": "eq", "value": path},
    ]


PRODUCT_PAGE = [
    {"field": "event.type", "op": "eq", "value": "page.view"},
    {"field": "page.path", "op": "prefix", "value": "/products/"},
]
# The generator's checkout walk (ingestion.generator.CHECKOUT_STEPS) from a product page;
# and the same behind a landing step every session has (every page view is a candidate).
FUNNELS: dict[str, list[list[dict[str, Any]]]] = {
    "product_to_confirm": [
        PRODUCT_PAGE,
        _page_view("/cart"),
        _page_view("/checkout/shipping"),
        _page_view("/checkout/payment"),
        _page_view("/checkout/confirm"),
    ],
    "landing_to_payment": [
        [{"field": "event.type", "op": "eq", "value": "page.view"}],
        PRODUCT_PAGE,
        _page_view("/cart"),
        _page_view("/checkout/shipping"),
        _page_view("/checkout/payment"),
    ],
}


def _explain(sql: str, params: list[Any]) -> list[str]:
    """EXPLAIN ANALYZE of the funnel's SQL with run()'s settings (in a rolled-back savepoint)."""
    from django.db import connection, transaction

    from journeys.funnels import CHAIN_FUNCTIONS_SQL, WORK_MEM

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CHAIN_FUNCTIONS_SQL)
        cursor.execute("SELECT set_config('work_mem', %s, true)", [WORK_MEM])
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        lines = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    return lines


def time_funnels(dataset: Dataset, *, runs: int, explain: bool) -> list[dict[str, Any]]:
    """Run each bench funnel once cold, then `runs` times warm; return the timings."""
    from django.db import transaction

    from journeys.funnels import FunnelQuery
    from productgraph.tenancy.context import org_context

    end = datetime.fromisoformat(dataset.end)
    timings = []
    for name, steps in FUNNELS.items():
        query = FunnelQuery(
            project_id=dataset.project_id,
            steps=steps,
            date_from=end - timedelta(days=dataset.days),
            date_to=end,
        )
        seconds: list[float] = []
        with transaction.atomic(), org_context(dataset.org_id):
            for _ in range(runs + 1):
                started = time.perf_counter()
                result = query.run()
                seconds.append(time.perf_counter() - started)
            plan = _explain(*query.to_sql()) if explain else None
        cold, warm = seconds[0], seconds[1:]
        entry: dict[str, Any] = {
            "name": name,
            "unit": query.unit,
            "window": str(query.conversion_window),
            "steps": steps,
            "cold_s": round(cold, 3),
            "warm_s": [round(value, 3) for value in warm],
            "best_s": round(min(warm), 3),
            "median_s": round(statistics.median(warm), 3),
            "meets_target": min(warm) <= TARGET_SECONDS,
            "funnel": str(result.overall),
        }
        if plan is not None:
            entry["explain_analyze"] = plan
        _say(
            f"  {name}: cold {cold:.2f} s; warm {', '.join(f'{v:.2f}' for v in warm)} s"
            f" (best {min(warm):.2f}, median {statistics.median(warm):.2f}): {result.overall}"
        )
        timings.append(entry)
    return timings


def _build_suggested_index(database: str) -> float:
    """Create SUGGESTED_INDEX (as the owner) unless it exists; return the seconds it took."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(_urls(database).owner, autocommit=True) as connection:
        connection.execute("SET maintenance_work_mem = '512MB'")
        connection.execute(SUGGESTED_INDEX.replace("INDEX", "INDEX IF NOT EXISTS", 1))
    return time.perf_counter() - started


def _reusable(marker: Path) -> Dataset | None:
    """The kept dataset described by `marker`, if it is the one this run would load."""
    import psycopg
    from django.conf import settings

    try:
        dataset = Dataset(**json.loads(marker.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    sessions = max(1, round(_env_int("BENCH_FUNNEL_EVENTS", 10_000_000) / EVENTS_PER_SESSION))
    if dataset.database != funnel_database_name() or (dataset.sessions, dataset.seed) != (
        sessions,
        SEED,
    ):
        return None
    urls = settings.DATABASE_URLS
    with psycopg.connect(urls.admin or urls.owner) as connection:
        row = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dataset.database])
        return dataset if row.fetchone() else None


def main() -> int:
    """Load (or reuse) the data, time the funnels, write `.data/bench/funnel.json`."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    from bench.__main__ import cpus
    from bench.run import git_revision, machine_info
    from productgraph.tenancy.provisioning import drop_database

    out_dir = Path(settings.PRODUCTGRAPH_DATA_DIR) / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    marker = out_dir / "funnel_dataset.json"
    runs = max(1, _env_int("BENCH_FUNNEL_RUNS", 3))
    explain = os.environ.get("BENCH_FUNNEL_EXPLAIN") == "1"
    load_before = [round(value, 2) for value in os.getloadavg()]
    _say("bench.funnel: the funnel runner on the bench shop's events")
    dataset = _reusable(marker) if os.environ.get("BENCH_FUNNEL_REUSE") == "1" else None
    if dataset is None:
        dataset = load(report=lambda line: _say(f"  {line}"))
        marker.write_text(json.dumps(asdict(dataset), indent=2) + "\n")
    else:
        _say(f"  reusing {dataset.database} ({dataset.events:,} events)")
    _attach(dataset.database)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        server_version = cursor.fetchone()[0]
    _say(f"timing {len(FUNNELS)} funnels: 1 cold + {runs} warm runs each")
    funnels = time_funnels(dataset, runs=runs, explain=explain)
    suggested: dict[str, Any] | None = None
    if os.environ.get("BENCH_FUNNEL_SUGGESTED_INDEX") == "1":
        _say(f"with the suggested index: {SUGGESTED_INDEX}")
        built = _build_suggested_index(dataset.database)
        suggested = {
            "ddl": SUGGESTED_INDEX,
            "build_s": round(built, 1),
            "funnels": time_funnels(dataset, runs=runs, explain=explain),
        }
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench.funnel",
        "commit": git_revision(),
        "machine": {
            **machine_info(cpus=cpus(), postgres_version=str(server_version)),
            "load_average_before": load_before,
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
        },
        "dataset": asdict(dataset),
        "target_s": TARGET_SECONDS,
        "funnels": funnels,
        "suggested_index": suggested,
    }
    path = out_dir / "funnel.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    _say(f"wrote {path}")
    if os.environ.get("BENCH_FUNNEL_KEEP") != "1":
        connections.close_all()
        drop_database(_urls(dataset.database), database=dataset.database)
        marker.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
