"""The ceiling: a raw COPY of the same rows into a copy of the events table, as the owner.

The rows are the ones the write path would COPY for the load generator's batches: the same
events (bench.events), validated by the app's own validator, laid out in
`ingestion.ddl.COPY_COLUMNS` with the server-set columns, each with its own event id. They
go through `ingestion.writer.copy_rows` (binary COPY), as in the write path, into
`bench_copy`: a plain (unpartitioned) table made `LIKE ingestion_event INCLUDING ALL` —
same columns, defaults and indexes, no RLS, no staging table, no deduplication, no HTTP,
no Python per request.

Three figures: one COPY of every row in one transaction, the best of `repeats` runs (the
ceiling the ratio uses: the most this server took while the machine was least disturbed),
one COPY + COMMIT per 1,000 rows (what the batch size alone costs), and, with `org_id`, one
COPY into a faithful copy: partitioned by range on the timestamp like the events table and
holding the rows the events table held when the 1,000-event phase began, so that the COPY
routes each row and updates indexes as deep as the ones that phase started writing into
(the empty, unpartitioned table's figure is the more generous ceiling).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from bench.events import SESSION_TOKEN, TOKEN, make_batches
from bench.server import cpu_seconds_between, postgres_cpu
from ingestion.ddl import COPY_COLUMNS
from ingestion.services import events_validate
from ingestion.validation import Project
from ingestion.writer import copy_rows
from orgs.models import Organization

TABLE = "bench_copy"
FILLED_TABLE = "bench_copy_filled"
_EVENT_ID = COPY_COLUMNS.index("event_id")
_SESSION_ID = COPY_COLUMNS.index("session_id")


def ceiling_rows(
    *, count: int, batch: int, org_id: int, project_id: int, public_id: str, slug: str
) -> list[tuple[Any, ...]]:
    """Return `count` rows exactly as the write path would build them, ids unique."""
    [template] = make_batches(sizes=[batch], project_public_id=public_id, seed=7)
    received_at = datetime.now(UTC)
    valid, errors = events_validate(
        events=template.events,
        project=Project(public_id=public_id, slug=slug),
        received_at=received_at,
        # The bench org's: its events are of the current month, well inside it.
        retention_days=Organization._meta.get_field("retention_days").default,
    )
    if errors:
        raise RuntimeError(f"bench events do not validate: {[e.as_dict() for e in errors[:3]]}")
    # As ingestion.services.events_ingest lays a row out: catalog values, then server columns.
    layout = [
        list(
            (*event.values, org_id, project_id, event.attributes, received_at, template.user_agent)
        )
        for event in valid
    ]
    rows: list[tuple[Any, ...]] = []
    for number in range(-(-count // batch)):
        token = f"{number:020x}"
        for values in layout:
            row = values.copy()
            row[_EVENT_ID] = str(row[_EVENT_ID]).replace(TOKEN, token)
            row[_SESSION_ID] = str(row[_SESSION_ID]).replace(SESSION_TOKEN, token[2:])
            rows.append(tuple(row))
    return rows[:count]


def _copy(cursor: psycopg.Cursor, rows: list[tuple[Any, ...]], *, table: str = TABLE) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS))
    )
    copy_rows(cursor, statement, rows)


def measure(
    *,
    owner_url: str,
    rows: list[tuple[Any, ...]],
    batch: int,
    postmaster_pid: int | None = None,
    database: str = "",
    repeats: int = 3,
    org_id: int | None = None,
    filled_rows: int | None = None,
) -> dict[str, Any]:
    """COPY `rows` into a fresh copy of the events table; return rows/s of each figure.

    With the local postmaster's pid, also the CPU seconds the single COPY cost: this
    process's (the rows' encoding) plus PostgreSQL's (parsing, heap, indexes, WAL).
    """
    table = sql.Identifier(TABLE)
    with (
        psycopg.connect(owner_url, autocommit=False) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        cursor.execute(
            sql.SQL("CREATE TABLE {} (LIKE ingestion_event INCLUDING ALL)").format(table)
        )
        connection.commit()
        _copy(cursor, rows[:batch])  # warm the caches and the COPY path
        connection.commit()
        cursor.execute(sql.SQL("TRUNCATE {}").format(table))
        connection.commit()

        runs: list[tuple[float, float, float | None]] = []  # seconds, client CPU, server CPU
        for _ in range(repeats):
            postgres_before = postgres_cpu(postmaster_pid, database)
            client_before = time.process_time()
            started = time.perf_counter()
            _copy(cursor, rows)
            connection.commit()
            elapsed = time.perf_counter() - started
            client_cpu = time.process_time() - client_before
            postgres_after = postgres_cpu(postmaster_pid, database)
            server_cpu = (
                cpu_seconds_between(postgres_before, postgres_after)
                if postgres_before is not None and postgres_after is not None
                else None
            )
            runs.append((elapsed, client_cpu, server_cpu))
            cursor.execute(sql.SQL("TRUNCATE {}").format(table))
            connection.commit()
        single, client_cpu, server_cpu = min(runs)
        started = time.perf_counter()
        for offset in range(0, len(rows), batch):
            _copy(cursor, rows[offset : offset + batch])
            connection.commit()
        batched = time.perf_counter() - started

        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size(%s))", [TABLE])
        size = cursor.fetchone()
        cursor.execute(sql.SQL("DROP TABLE {}").format(table))
        connection.commit()
        filled = (
            None
            if org_id is None or filled_rows is None
            else _into_filled_copy(connection, cursor, rows, org_id=org_id, held=filled_rows)
        )
    return {
        "table": f"{TABLE} (LIKE ingestion_event INCLUDING ALL): unpartitioned, same indexes",
        "rows": len(rows),
        "rows_per_s": round(len(rows) / single, 1),
        "seconds": round(single, 3),
        "runs_rows_per_s": [round(len(rows) / run[0], 1) for run in runs],
        "per_batch": {
            "batch": batch,
            "rows_per_s": round(len(rows) / batched, 1),
            "seconds": round(batched, 3),
        },
        "table_size": size[0] if size else None,
        "filled": filled,
        "cpu_s": {
            "client": round(client_cpu, 2),
            "postgres": None if server_cpu is None else round(server_cpu, 2),
        },
    }


def _into_filled_copy(
    connection: psycopg.Connection,
    cursor: psycopg.Cursor,
    rows: list[tuple[Any, ...]],
    *,
    org_id: int,
    held: int,
) -> dict[str, Any]:
    """COPY `rows` once into a partitioned copy of the events table given its first `held`
    rows, in the order they were stored (the owner too is under the forced policy: the org
    is set)."""
    table = sql.Identifier(FILLED_TABLE)
    cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
    cursor.execute(
        sql.SQL(
            'CREATE TABLE {} (LIKE ingestion_event INCLUDING ALL) PARTITION BY RANGE ("timestamp")'
        ).format(table)
    )
    # One partition takes every row, as the current month's does during the load.
    cursor.execute(
        sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(
            sql.Identifier(f"{FILLED_TABLE}_all"), table
        )
    )
    cursor.execute("SELECT set_config('app.current_org_id', %s, true)", [str(org_id)])
    cursor.execute(
        sql.SQL("INSERT INTO {} SELECT * FROM ingestion_event ORDER BY id LIMIT %s").format(table),
        [held],
    )
    given = cursor.rowcount  # fewer than `held` only if rows were purged meanwhile
    connection.commit()
    started = time.perf_counter()
    _copy(cursor, rows, table=FILLED_TABLE)
    connection.commit()
    elapsed = time.perf_counter() - started
    cursor.execute(sql.SQL("DROP TABLE {}").format(table))
    connection.commit()
    return {"rows_held": given, "rows_per_s": round(len(rows) / elapsed, 1)}
