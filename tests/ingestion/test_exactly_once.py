"""Exactly once under concurrent retries of the same batch (committed data, real threads)."""

from __future__ import annotations

import threading

from django.db import connections
from django.test import Client

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
