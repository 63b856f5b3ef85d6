"""The ceiling: the load's rows, built as the write path builds them, COPYed raw into a copy of
the events table as the owner, in three figures (docs/performance.md, step 6)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import postgres, pq, sql
from psycopg.adapt import Dumper

from bench.database import COLUMNS
from bench.events import SESSION_TOKEN, TOKEN, make_batches
from bench.server import postgres_cpu, used
from ingestion.services import Project, events_validate
from orgs.models import Organization

TABLE, FILLED = "bench_copy", "bench_copy_filled"


class _SerializedJsonb(Dumper):
    """jsonb's binary format from JSON the validator already serialized (as the write path)."""

    format = pq.Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


def ceiling_rows(
    *, count: int, batch: int, org_id: int, project_id: int, public_id: str, slug: str
) -> list[tuple[Any, ...]]:
    """`count` rows exactly as the write path would build them, ids unique."""
    [template] = make_batches(sizes=[batch], project_public_id=public_id, seed=7)
    received_at = datetime.now(UTC)
    retention = Organization._meta.get_field("retention_days").default  # the bench org's
    valid, errors = events_validate(events=template.events, received_at=received_at,
                                    project=Project(public_id=public_id, slug=slug),
                                    retention_days=retention)  # fmt: skip
    if errors:
        raise RuntimeError(f"bench events do not validate: {[e.as_dict() for e in errors[:3]]}")
    server = (org_id, project_id)
    layout = [[*e.values, *server, e.attributes, received_at, template.user_agent] for e in valid]
    event_id, session_id = COLUMNS.index("event_id"), COLUMNS.index("session_id")
    rows: list[tuple[Any, ...]] = []
    for number in range(-(-count // batch)):
        token = f"{number:020x}"
        for values in layout:
            row = values.copy()
            row[event_id] = str(row[event_id]).replace(TOKEN, token)
            row[session_id] = str(row[session_id]).replace(SESSION_TOKEN, token[2:])
            rows.append(tuple(row))
    return rows[:count]


def _copy(cursor: psycopg.Cursor, rows: list[tuple[Any, ...]], table: str = TABLE) -> None:
    if not _TYPES:  # the events table's column types (the write path's), looked up once
        query = "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass"
        _TYPES.update(cursor.execute(query, ["ingestion_event"]).fetchall())
    columns = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), columns
    )
    cursor.adapters.register_dumper(None, _SerializedJsonb)  # this cursor only
    with cursor.copy(statement) as copy:
        copy.set_types([_TYPES[column] for column in COLUMNS])
        for row in rows:
            copy.write_row(row)


_TYPES: dict[str, int] = {}


def measure(*, owner_url: str, rows: list[tuple[Any, ...]], batch: int,
            postmaster_pid: int | None = None, database: str = "", org_id: int | None = None,
            repeats: int = 3, filled_rows: int | None = None) -> dict[str, Any]:  # fmt: skip
    """COPY `rows` into a fresh copy of the events table; return rows/s of each figure, and
    the CPU seconds the single COPY cost: this process's (encoding) and, with the local
    postmaster's pid, PostgreSQL's (parsing, heap, indexes, WAL)."""
    table = sql.Identifier(TABLE)
    with psycopg.connect(owner_url) as connection, connection.cursor() as cursor:

        def run(statement: Any, *args: Any) -> None:
            cursor.execute(statement, args or None)
            connection.commit()

        run(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        run(sql.SQL("CREATE TABLE {} (LIKE ingestion_event INCLUDING ALL)").format(table))
        _copy(cursor, rows[:batch])  # warm the caches and the COPY path
        run(sql.SQL("TRUNCATE {}").format(table))
        runs: list[tuple[float, float, float | None]] = []  # seconds, client CPU, server CPU
        for _ in range(repeats):
            postgres_before = postgres_cpu(postmaster_pid, database)
            client_before, started = time.process_time(), time.perf_counter()
            _copy(cursor, rows)
            connection.commit()
            elapsed, client_cpu = time.perf_counter() - started, time.process_time() - client_before
            postgres_after = postgres_cpu(postmaster_pid, database)
            server_cpu = None
            if postgres_before is not None and postgres_after is not None:
                server_cpu = used([postgres_before, postgres_after])
            runs.append((elapsed, client_cpu, server_cpu))
            run(sql.SQL("TRUNCATE {}").format(table))
        single, client_cpu, server_cpu = min(runs)
        started = time.perf_counter()
        for offset in range(0, len(rows), batch):
            _copy(cursor, rows[offset : offset + batch])
            connection.commit()
        batched = time.perf_counter() - started
        size = cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size(%s))", [TABLE]
        ).fetchone()
        run(sql.SQL("DROP TABLE {}").format(table))
        filled = None
        if org_id is not None and filled_rows is not None:
            filled = _into_filled_copy(run, cursor, rows, org_id=org_id, held=filled_rows)
    return {
        "table": f"{TABLE} (LIKE ingestion_event INCLUDING ALL): unpartitioned, same indexes",
        "rows": len(rows),
        "rows_per_s": round(len(rows) / single, 1),
        "seconds": round(single, 3),
        "runs_rows_per_s": [round(len(rows) / run[0], 1) for run in runs],
        "per_batch": {"batch": batch, "rows_per_s": round(len(rows) / batched, 1),
                      "seconds": round(batched, 3)},
        "table_size": size[0] if size else None,
        "filled": filled,
        "cpu_s": {"client": round(client_cpu, 2),
                  "postgres": None if server_cpu is None else round(server_cpu, 2)},
    }  # fmt: skip


def _into_filled_copy(
    run: Any, cursor: psycopg.Cursor, rows: list[tuple[Any, ...]], *, org_id: int, held: int
) -> dict[str, Any]:
    """COPY `rows` once into a partitioned copy of the events table (one DEFAULT partition
    takes every row, as the current month's does during the load) given its first `held`
    rows in stored order (the owner too is under the forced policy: the org is set)."""
    table = sql.Identifier(FILLED)
    cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
    cursor.execute(sql.SQL('CREATE TABLE {} (LIKE ingestion_event INCLUDING ALL) '
                           'PARTITION BY RANGE ("timestamp")').format(table))  # fmt: skip
    partition = sql.Identifier(f"{FILLED}_all")
    cursor.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(partition, table))
    cursor.execute("SELECT set_config('app.current_org_id', %s, true)", [str(org_id)])
    insert = "INSERT INTO {} SELECT * FROM ingestion_event ORDER BY id LIMIT %s"
    run(sql.SQL(insert).format(table), held)
    given = cursor.rowcount  # fewer than `held` only if rows were purged meanwhile
    started = time.perf_counter()
    _copy(cursor, rows, FILLED)
    cursor.connection.commit()
    elapsed = time.perf_counter() - started
    run(sql.SQL("DROP TABLE {}").format(table))
    return {"rows_held": given, "rows_per_s": round(len(rows) / elapsed, 1)}
