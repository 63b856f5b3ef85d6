"""The loop the bulk commands share (ingestion/management/bulk.py): shards in processes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ingestion.management.bulk import Chunk, IngestProcessError, shards_ingest
from tests.conftest import make_tenant
from tests.ingestion.helpers import counts, event


def test_a_failing_ingest_process_is_reported_and_the_others_stop(committed):
    acme = make_tenant("acme")

    def shard_chunks(shard: int) -> Iterator[Chunk]:
        if shard == 1:
            raise ValueError("boom")
        yield Chunk(events=[event(event_id="e1")])

    with pytest.raises(IngestProcessError, match="ValueError: boom"):
        shards_ingest(project=acme.project, shard_chunks=shard_chunks, shards=2)


def test_an_ingest_process_that_dies_is_reported(committed):
    acme = make_tenant("acme")

    def shard_chunks(shard: int) -> Iterator[Chunk]:
        if shard == 0:
            os._exit(3)  # as if killed: no report at all
        yield Chunk(events=[event(event_id="e1")])

    with pytest.raises(IngestProcessError, match="died without reporting"):
        shards_ingest(project=acme.project, shard_chunks=shard_chunks, shards=2)


def test_shards_run_in_processes_add_up(committed) -> None:
    acme = make_tenant("acme")
    seen: list[tuple[int, int]] = []

    def shard_chunks(shard: int) -> Iterator[Chunk]:
        yield Chunk(events=[event(event_id=f"e{shard}"), event(event_id="shared")], sessions=1)

    report = shards_ingest(
        project=acme.project,
        shard_chunks=shard_chunks,
        shards=3,
        on_progress=lambda sessions, events: seen.append((sessions, events)),
    )
    assert (report.accepted, report.duplicates, report.inserted) == (6, 2, 4)
    assert seen == [(1, 2)] * 3
    assert counts(acme) == (4, 4)
