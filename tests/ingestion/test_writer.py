"""Exactly once (ingestion/writer.py): duplicates in a batch, across batches and projects,
concurrent retries of the same batch (committed data, real threads), the plain insert
that large batches try first, generated valid events stored field for field, and a
month written to the default partition."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import datetime

from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion import writer
from ingestion.catalog import FIELDS
from orgs.models import MAX_RETENTION_DAYS, Organization
from productgraph.tenancy.context import org_context
from tests.conftest import make_tenant, run_json
from tests.ingestion.helpers import (
    counts,
    event,
    ndjson,
    partition_exists,
    post,
    retention_set,
    stored,
)
from tests.ingestion.strategies import events


def test_concurrent_retries_of_one_batch_store_each_event_once(committed):
    acme = make_tenant("acme")
    batch = {"events": [event(event_id=f"e{i:03}", session__id=f"s{i % 7}") for i in range(200)]}
    # Overlapping batches in another order, to exercise lock ordering too.
    reverse = {"events": list(reversed(batch["events"]))}
    results: list[dict] = []
    barrier = threading.Barrier(6)

    def send(payload) -> None:
        try:
            barrier.wait()
            response = post(Client(), acme.ingest_key, payload)
            assert response.status_code == 202, response.content
            results.append(response.json())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(batch if i % 2 else reverse,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 6
    assert all(result["accepted"] == 200 for result in results)
    assert sum(result["accepted"] - result["duplicates"] for result in results) == 200
    rows = stored(acme.org.pk)
    assert sorted(row.event_id for row in rows) == [f"e{i:03}" for i in range(200)]


def _big_batch(start: int = 0, count: int = writer.PLAIN_INSERT_MIN_ROWS) -> dict:
    return {"events": [event(event_id=f"b{i:04}") for i in range(start, start + count)]}


_MOVES = {
    writer._INSERT_ALL_KEYS: "plain keys",
    writer._INSERT_ALL_NEW: "plain rows",
    writer._MOVE: "deduplicating",
}


def _moves(queries: CaptureQueriesContext) -> list[str]:
    return [_MOVES[query["sql"]] for query in queries.captured_queries if query["sql"] in _MOVES]


def test_a_large_new_batch_is_stored_by_the_plain_insert(client, acme):
    with CaptureQueriesContext(connection) as queries:
        response = post(client, acme.ingest_key, _big_batch())
    assert response.json()["duplicates"] == 0
    assert _moves(queries) == ["plain keys", "plain rows"]
    assert len(stored(acme.org.pk)) == writer.PLAIN_INSERT_MIN_ROWS


def test_a_small_batch_goes_straight_to_the_deduplicating_insert(client, acme):
    with CaptureQueriesContext(connection) as queries:
        post(client, acme.ingest_key, _big_batch(count=writer.PLAIN_INSERT_MIN_ROWS - 1))
    assert _moves(queries) == ["deduplicating"]


def test_a_large_batch_with_stored_events_falls_back_and_counts_them(client, acme):
    size = writer.PLAIN_INSERT_MIN_ROWS
    post(client, acme.ingest_key, _big_batch(0, 10))  # ten of the next batch, already stored
    with CaptureQueriesContext(connection) as queries:
        response = post(client, acme.ingest_key, _big_batch(0, size))
    assert response.json() == {"accepted": size, "duplicates": 10, "rejected": 0, "errors": []}
    # The stored keys conflict before any row is written; then the deduplicating statement.
    assert _moves(queries) == ["plain keys", "deduplicating"]
    rows = stored(acme.org.pk)
    assert sorted(row.event_id for row in rows) == [f"b{i:04}" for i in range(size)]
    retry = post(client, acme.ingest_key, _big_batch(0, size))
    assert retry.json()["duplicates"] == size
    assert len(stored(acme.org.pk)) == size


def test_resending_is_a_duplicate_not_a_second_row(client, acme):
    post(client, acme.ingest_key, {"events": [event()]})
    response = post(client, acme.ingest_key, {"events": [event(), event(event_id="new")]})
    assert response.json() == {"accepted": 2, "duplicates": 1, "rejected": 0, "errors": []}
    assert len(stored(acme.org.pk)) == 2


def test_same_event_id_twice_in_a_batch_stores_one_row_and_counts_one_duplicate(client, acme):
    response = post(client, acme.ingest_key, {"events": [event(), event(page__path="/other")]})
    assert response.json() == {"accepted": 2, "duplicates": 1, "rejected": 0, "errors": []}
    [row] = stored(acme.org.pk)
    assert row.page_path is None, "the first occurrence wins"


def test_same_event_id_in_two_projects_is_two_events(client, acme, globex):
    post(client, acme.ingest_key, {"events": [event()]})
    response = post(client, globex.ingest_key, {"events": [event()]})
    assert response.json()["duplicates"] == 0


def test_a_month_already_in_the_default_partition_stays_there(acme, tmp_path, capsys, monkeypatch):
    # A process that believes 1999-01's partition exists (an operator dropped it since)
    # writes that month into the default partition; later writes of the month still work.
    from datetime import date

    from ingestion import writer

    Organization.objects.filter(pk=acme.org.pk).update(retention_days=MAX_RETENTION_DAYS)
    monkeypatch.setattr(writer, "_known_partitions", {date(1999, 1, 1)})
    old = event(event_id="old-1", event__timestamp="1999-01-15T10:00:00Z")
    path = ndjson(tmp_path / "a.ndjson", old)
    assert run_json(capsys, "import_events", "--project", "proj_acme", str(path))["accepted"] == 1
    assert not partition_exists("ingestion_event_199901")
    monkeypatch.setattr(writer, "_known_partitions", set())  # a process that knows nothing
    again = event(event_id="old-2", event__timestamp="1999-01-16T10:00:00Z")
    path = ndjson(tmp_path / "b.ndjson", again)
    assert run_json(capsys, "import_events", "--project", "proj_acme", str(path))["accepted"] == 1
    assert not partition_exists("ingestion_event_199901")
    with transaction.atomic(), org_context(acme.org.pk), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ingestion_event_default")
        assert cursor.fetchone()[0] == 2
    assert counts(acme) == (2, 2)


_EXAMPLES = itertools.count()


def _expected(field, value):
    if field.kind == "timestamp":
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if field.kind == "number":
        return float(value)
    if field.rounded:
        return round(value)
    return value


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(events(), min_size=1, max_size=5, unique_by=lambda e: e["event_id"]))
def test_valid_events_are_stored_field_for_field(client, acme, batch):
    # Examples share the test's transaction: make ids unique per example, or a shrunk id
    # repeated by a later example would (rightly) be a duplicate of an earlier one.
    example = next(_EXAMPLES)
    retention_set(acme.org.pk, MAX_RETENTION_DAYS)  # the strategies' years are all kept
    for raw in batch:
        raw["event_id"] = f"{example}-{raw['event_id']}"
    response = post(client, acme.ingest_key, {"events": batch})
    assert response.status_code == 202, response.content
    assert response.json()["rejected"] == 0
    rows = {row.event_id: row for row in stored(acme.org.pk)}
    for raw in batch:
        row = rows[raw["event_id"]]
        for field in FIELDS:
            got = getattr(row, field.column)
            if field.key not in raw:
                assert got is None, field.key
            elif field.kind in ("json", "object"):
                assert json.dumps(got, sort_keys=True) == json.dumps(raw[field.key], sort_keys=True)
            else:
                assert got == _expected(field, raw[field.key]), field.key
