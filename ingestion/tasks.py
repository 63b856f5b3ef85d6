"""Celery tasks of ingestion storage upkeep (beat schedules them; each is safe to retry)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from ingestion.partitions import partitions_ensure

_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 5,
}


@shared_task(name="ingestion.ensure_partitions", **_RETRY)
def ensure_partitions_task() -> list[str]:
    """Create the event partitions from last month to three months ahead; return new ones.

    Not tied to an org: partitions are shared storage, made by a SECURITY DEFINER function.
    Idempotent, so a retry or a second run in a day changes nothing.
    """
    return partitions_ensure().created
