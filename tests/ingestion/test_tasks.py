"""The ingestion tasks (ingestion/tasks.py)."""

from __future__ import annotations

from ingestion.tasks import ensure_partitions_task


def test_ensure_partitions_task_returns_only_the_partitions_it_created(db):
    ensure_partitions_task()
    assert ensure_partitions_task() == []
