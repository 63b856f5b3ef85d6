"""Exactly once: concurrent retries of the same batch (committed data, real threads), and the
plain insert that large batches try first (ingestion.writer)."""

from __future__ import annotations

import threading

from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ingestion import writer
from tests.conftest import make_tenant
from tests.ingestion.helpers import event, post, stored


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
