"""The bench's databases and tenants, provisioned as `setup_database` does (roles and database
as the admin, migrations as the owner, grants for the runtime role); the reads the runs check
themselves with (runtime role, org context, fresh connections); the generated datasets."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.models import Sum

import bench.app  # noqa: F401 - Django set up before the models below
from bench.report import say
from bench.server import local_postmaster
from ingestion import generator
from ingestion.catalog import FIELDS
from ingestion.models import Event
from journeys.services import journey_create
from orgs import services
from orgs.models import Project
from productgraph.tenancy import provisioning
from productgraph.tenancy.context import org_context
from productgraph.tenancy.roles import DatabaseUrls, url_password, url_user, with_credentials
from sessions import services as session_services
from sessions.models import Session
from sessions.selectors import sessions_stale

RATE_LIMIT_PER_SECOND = 100_000_000  # never throttles the bench
JOURNEYS = (
    (generator.CHECKOUT_JOURNEY, "Checkout", generator.CHECKOUT_STEPS),
    (generator.ONBOARDING_JOURNEY, "Onboarding", generator.ONBOARDING_STEPS),
)
# The write path's row: the catalog's columns, then the ones the server sets (events_ingest).
COLUMNS = (*(field.column for field in FIELDS), "org_id", "project_id", "attributes",
           "received_at", "user_agent")  # fmt: skip
Say = Callable[[str], None]


def journey_steps(steps: tuple[tuple[str, str, str, float], ...]) -> list[dict[str, object]]:
    """A journey definition's steps for the generator's (id, name, page path, _) steps."""
    return [
        {"id": step_id, "name": name, "match": [{"field": "page.path", "op": "eq", "value": path}]}
        for step_id, name, path, _ in steps
    ]


@dataclass(frozen=True)
class BenchTenant:
    """A bench database, its URLs and the tenant the load is sent as."""

    database: str
    urls: DatabaseUrls
    org_id: int
    project_id: int
    project_public_id: str
    project_slug: str
    ingest_key: str


def database_name(suffix: str) -> str:
    """The configured database's name with `_<suffix>` appended."""
    return f"{provisioning.default_database(settings.DATABASE_URLS)}_{suffix}"


def database_urls(database: str) -> DatabaseUrls:
    """The configured URLs (same server, same roles), pointed at `database`."""
    urls = settings.DATABASE_URLS
    runtime, owner = _renamed(urls.runtime, database), _renamed(urls.owner, database)
    return replace(urls, runtime=runtime, owner=owner)


def _renamed(url: str, database: str) -> str:
    return with_credentials(url, user=url_user(url), password=url_password(url), database=database)


def attach(database: str) -> None:
    """Point Django's connections (the runtime role's and the owner's) at `database`."""
    for alias in ("default", "owner"):
        connections[alias].close()
        connections[alias].settings_dict["NAME"] = database
        settings.DATABASES[alias]["NAME"] = database


def migrate() -> None:
    call_command("migrate", database="owner", interactive=False, verbosity=0)
    connections["owner"].close()


def prepare(database: str, report: Say = say) -> BenchTenant:
    """Recreate `database`, migrate it as the owner, create the bench tenant in it."""
    urls = database_urls(database)
    attach(database)
    provisioning.provision_roles_and_database(urls, database=database, recreate=True, report=report)
    provisioning.grant_runtime_privileges(urls, database=database)
    migrate()
    provisioning.grant_runtime_privileges(urls, database=database)
    return tenant_create(database, urls, slug="bench", public_id="proj_bench")


def tenant_create(database: str, urls: DatabaseUrls, *, slug: str, public_id: str) -> BenchTenant:
    """An organization, a project (unthrottled, with the two journeys) and its ingest key,
    in the database Django's connections point at."""
    with transaction.atomic():
        org, _ = services.organization_create(slug=slug, name=slug.title())
        project, _ = services.project_create(org=org, name=slug.title(), public_id=public_id)
        key = services.api_key_issue(project=project, kind="ingest", name=f"make {slug}").key
        with org_context(org.pk):
            Project.objects.filter(org_id=org.pk, pk=project.pk).update(
                rate_limit_per_second=RATE_LIMIT_PER_SECOND
            )
            for journey_key, name, steps in JOURNEYS:
                journey_create(
                    project=project, key=journey_key, name=name, steps=journey_steps(steps)
                )
    connections.close_all()
    return BenchTenant(database, urls, org.pk, project.pk, project.public_id, project.slug, key)


def drop(database: str) -> None:
    connections.close_all()
    provisioning.drop_database(database_urls(database), database=database)


def owner_sql(tenant: BenchTenant, *statements: str, admin: bool = False) -> None:
    """Run statements outside a transaction as the owner (the admin: CHECKPOINT needs it)."""
    url = tenant.urls.owner
    if admin:
        if not tenant.urls.admin:
            return
        url = _renamed(tenant.urls.admin, tenant.database)
    with psycopg.connect(url, autocommit=True) as owner:
        for statement in statements:
            owner.execute(statement)  # our own constant statements


def server_facts(tenant: BenchTenant) -> tuple[str, int | None]:
    """The server's version, and its postmaster's pid when it runs on this machine."""
    with psycopg.connect(tenant.urls.owner) as owner:
        row = owner.execute("SELECT current_setting('server_version'), pg_backend_pid()")
        version, backend = row.fetchone() or ("unknown", 0)
        return str(version), local_postmaster(backend)  # while the backend still runs


def server_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        return str(cursor.fetchone()[0])


def results_dir() -> Path:
    return Path(settings.PRODUCTGRAPH_DATA_DIR) / "bench"


def _read(tenant: BenchTenant, read: Callable[[], Any]) -> Any:
    connections.close_all()
    with transaction.atomic(), org_context(tenant.org_id):
        return read()


def events_held(tenant: BenchTenant) -> int:
    return int(_read(tenant, lambda: Event.objects.filter(org_id=tenant.org_id).count()))


def consistency(tenant: BenchTenant) -> dict[str, Any]:
    """Every stored event of the project counted once in its session's row?"""

    def read() -> tuple[int, int, int]:
        sessions = Session.objects.filter(org_id=tenant.org_id, project_id=tenant.project_id)
        stored = Event.objects.filter(org_id=tenant.org_id, project_id=tenant.project_id).count()
        return stored, sessions.aggregate(n=Sum("event_count"))["n"] or 0, sessions.count()

    events, reflected, sessions = _read(tenant, read)
    return {"events": events, "reflected": reflected, "sessions": sessions,
            "consistent": events == reflected}  # fmt: skip


def stored_per_token(tenant: BenchTenant, length: int) -> tuple[dict[str, int], int, int]:
    """Rows the project stored per event-id token (its first `length` characters); all its
    rows; its distinct event ids."""

    def read() -> tuple[dict[str, int], int, int]:
        table = Event._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT left(event_id, %s), count(*) FROM {table} "  # noqa: S608
                "WHERE project_id = %s GROUP BY 1",
                [length, tenant.project_id],
            )
            per_token = {token: int(count) for token, count in cursor.fetchall()}
            cursor.execute(f"SELECT count(*), count(DISTINCT event_id) FROM {table} "  # noqa: S608
                           "WHERE project_id = %s", [tenant.project_id])  # fmt: skip
            rows, distinct = cursor.fetchone()
        return per_token, int(rows), int(distinct)

    return _read(tenant, read)  # type: ignore[no-any-return]


def stale_sessions(tenant: BenchTenant) -> int:
    """Sessions of the project whose row is missing or older than their last event."""
    since = datetime(2000, 1, 1, tzinfo=UTC)
    scope: dict[str, Any] = {"org_id": tenant.org_id, "project_id": tenant.project_id}
    return len(_read(tenant, lambda: sessions_stale(**scope, since=since)))


def wait_for_sessions(tenant: BenchTenant, *, bound: float, poll: float = 2.0) -> float | None:
    """Seconds until no session of the project is stale, or None if not within `bound` s."""
    started = time.monotonic()
    while True:
        try:
            if stale_sessions(tenant) == 0:
                return round(time.monotonic() - started, 1)
        except Exception as exc:  # a database coming back: poll again
            say(f"  sessions: {type(exc).__name__}: {exc}")
        if time.monotonic() - started > bound:
            return None
        time.sleep(poll)


def sessions_against_rebuild(tenant: BenchTenant) -> dict[str, Any]:
    """The project's session rows against a clean rebuild from its stored events: the fold
    `aggregate_sessions` runs over every session id, in a transaction rolled back."""
    scope: dict[str, Any] = {"org_id": tenant.org_id, "project_id": tenant.project_id}
    columns = [f.attname for f in Session._meta.concrete_fields if f.attname not in
               ("id", "org_id", "project_id", "session_id")]  # fmt: skip

    def rows() -> dict[str, tuple[Any, ...]]:
        found = Session.objects.filter(**scope).values_list("session_id", *columns)
        return {row[0]: row[1:] for row in found}

    def rebuild() -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
        before = rows()
        ids = sorted(Event.objects.filter(**scope).values_list("session_id", flat=True).distinct())
        batch = session_services.FOLD_BATCH
        for start in range(0, len(ids), batch):
            session_services.sessions_fold(**scope, session_ids=ids[start : start + batch])
        after = rows()
        transaction.set_rollback(True)
        return before, after

    before, after = _read(tenant, rebuild)
    keys = before.keys() | after.keys()
    differing = sorted(key for key in keys if before.get(key) != after.get(key))
    return {"sessions": len(after), "rows": len(before), "differing": len(differing),
            "examples": differing[:5], "equal": not differing}  # fmt: skip


# The generated datasets ------------------------------------------------------------------

DAYS = 30
END = datetime(2026, 11, 1, tzinfo=UTC)
SEED = 20261101
EVENTS_PER_SESSION = 38.9  # measured mean of `simulate_session` (5,000 sessions)
CHUNK_EVENTS = 200_000  # per COPY into the staging table, one transaction
PROCESSES = 2
STAGING = "bench_load.events"
LAYOUT = "timestamp order"  # a kept database loaded otherwise (no `layout`) is loaded again


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
    layout: str


def _load_shard(owner_url: str, org_id: int, project_id: int, sessions: int, shard: int) -> int:
    """Generate one shard's sessions into the staging table; return its events."""
    keys = [(field.key, field.kind in ("json", "object")) for field in FIELDS]
    pending: list[Any] = []
    stored = 0
    with psycopg.connect(owner_url) as owner, owner.cursor() as cursor:

        def flush() -> int:
            with cursor.copy(f"COPY {STAGING} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for batch in pending:
                    for event in batch.events:
                        row = [json.dumps(event[key]) if is_json and event.get(key) is not None
                               else event.get(key) for key, is_json in keys]  # fmt: skip
                        timestamp = event["event.timestamp"]
                        copy.write_row(
                            [*row, org_id, project_id, None, timestamp, batch.user_agent]
                        )
            owner.commit()
            count = sum(len(batch.events) for batch in pending)
            pending.clear()
            return count

        generated = generator.generate_batches(
            sessions=sessions, days=DAYS, seed=SEED, now=END, max_events=10_000, shard=shard,
            shards=PROCESSES,
        )  # fmt: skip
        for batch in generated:
            pending.append(batch)
            if sum(len(item.events) for item in pending) >= CHUNK_EVENTS:
                stored += flush()
        stored += flush() if pending else 0
    return stored


def load(database: str, sessions: int, report: Say = say) -> Dataset:
    """Provision `database` with the bench tenant and load `sessions` generated sessions."""
    tenant = prepare(database, report)
    started = time.perf_counter()
    columns = ", ".join(COLUMNS)  # from the catalog
    with psycopg.connect(tenant.urls.owner, autocommit=True) as owner:
        for month in months_between((END - timedelta(days=DAYS)).date(), END.date()):
            owner.execute("SELECT productgraph_ensure_event_partition(%s)", [month])
        owner.execute("DROP SCHEMA IF EXISTS bench_load CASCADE")
        owner.execute("CREATE SCHEMA bench_load")
        owner.execute(
            f"CREATE UNLOGGED TABLE {STAGING} AS SELECT {columns} FROM ingestion_event WITH NO DATA"  # noqa: S608
        )
    report(f"loading {sessions:,} sessions (~{round(sessions * EVENTS_PER_SESSION):,} events) "
           f"with {PROCESSES} processes")  # fmt: skip
    shard = (tenant.urls.owner, tenant.org_id, tenant.project_id, sessions)
    with multiprocessing.get_context("fork").Pool(PROCESSES) as pool:
        events = sum(pool.starmap(_load_shard, [(*shard, n) for n in range(PROCESSES)]))
    with psycopg.connect(tenant.urls.owner) as owner:  # as ingestion.writer does, in the org
        owner.execute("SELECT set_config('app.current_org_id', %s, true)", [str(tenant.org_id)])
        owner.execute("SELECT set_config('work_mem', '1GB', true)")
        owner.execute(
            "INSERT INTO ingestion_eventkey (org_id, project_id, event_id, timestamp) "  # noqa: S608
            f"SELECT org_id, project_id, event_id, timestamp FROM {STAGING} ORDER BY timestamp"
        )
        owner.execute(
            f"INSERT INTO ingestion_event ({columns}) "  # noqa: S608
            f"SELECT {columns} FROM {STAGING} ORDER BY timestamp, event_id"
        )
        owner.execute("DROP SCHEMA bench_load CASCADE")
    loaded = time.perf_counter() - started
    report(f"{events:,} events in {loaded:.1f} s ({events / loaded:,.0f} events/s)")
    started = time.perf_counter()
    owner_sql(tenant, "VACUUM (ANALYZE) ingestion_event", "VACUUM (ANALYZE) ingestion_eventkey")
    with psycopg.connect(tenant.urls.owner) as owner:
        row = owner.execute(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid)))"
            " FROM pg_inherits WHERE inhparent = 'ingestion_event'::regclass"
        ).fetchone()
    report(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
    size = str(row[0]) if row else "unknown"
    return Dataset(database, tenant.org_id, tenant.project_id, sessions, events, SEED,
                   END.isoformat(), DAYS, round(loaded, 1), size, LAYOUT)  # fmt: skip


def _marker(kind: str) -> Path:
    return results_dir() / f"{kind}_dataset.json"


def _reusable(kind: str, database: str, sessions: int) -> Dataset | None:
    try:
        dataset = Dataset(**json.loads(_marker(kind).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if (dataset.database, dataset.sessions, dataset.seed, dataset.layout) != (
        database, sessions, SEED, LAYOUT
    ):  # fmt: skip
        return None
    urls = settings.DATABASE_URLS  # the maintenance database: the configured one may not exist
    with psycopg.connect(urls.admin or urls.owner, dbname="postgres") as admin:
        row = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
        return dataset if row.fetchone() else None


def prepared(kind: str, *, sessions: int, reuse: bool, report: Say = say) -> Dataset:
    """Reuse the kept `<name>_<kind>_bench` if asked and it holds these sessions (migrated to
    the code under test), else load it; point Django's connections at it."""
    name = database_name(f"{kind}_bench")
    _marker(kind).parent.mkdir(parents=True, exist_ok=True)
    dataset = _reusable(kind, name, sessions) if reuse else None
    if dataset is None:
        _marker(kind).unlink(missing_ok=True)  # a failed load must not leave it describing one
        dataset = load(name, sessions, report)
        _marker(kind).write_text(json.dumps(asdict(dataset), indent=2) + "\n")
    else:
        report(f"reusing {dataset.database} ({dataset.events:,} events)")
        attach(dataset.database)
        migrate()
    return dataset


def finished(kind: str, dataset: Dataset, *, keep: bool) -> None:
    """Drop the dataset's database and forget it, unless it is to be kept for reuse."""
    if not keep:
        drop(dataset.database)
        _marker(kind).unlink(missing_ok=True)


def months_between(start: date, end: date) -> list[date]:
    months, month = [], start.replace(day=1)
    while month <= end:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months
