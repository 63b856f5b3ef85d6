"""Create the monthly partitions of the events table ahead of time (storage upkeep).

The write path already creates a month's partition on demand, but that takes a lock on the
whole events table in the middle of ingestion; running this every 6 hours (`ensure_partitions`, the
beat task `ensure_partitions_task`) keeps the months around now ready beforehand.

Partitions are created by `productgraph_ensure_event_partition(date)`, a SECURITY DEFINER
function owned by the owner role (migration ingestion 0002): the runtime role may call it
but cannot create tables itself. The function gives each partition the same forced RLS
policy as its parent, so `check_rls` holds afterwards; it is idempotent and safe to run
concurrently (an advisory lock per partition).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import connection
from django.utils import timezone

MAX_MONTHS = 120


@dataclass(frozen=True)
class PartitionsResult:
    """The partitions the run made sure of, in month order, and those it created."""

    partitions: list[str]
    created: list[str]


def _add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def partition_months(*, now: datetime, months_back: int, months_ahead: int) -> list[date]:
    """Return the first day of every month from `months_back` before to `months_ahead` after."""
    first = now.astimezone(UTC).date().replace(day=1)
    return [_add_months(first, offset) for offset in range(-months_back, months_ahead + 1)]


def partitions_ensure(
    *, months_back: int = 1, months_ahead: int = 3, now: datetime | None = None
) -> PartitionsResult:
    """Make sure the events table has a partition for each month around `now` (UTC).

    Call it outside a transaction when possible: each partition then commits at once and
    the lock it takes on the events table is held only for that statement.
    """
    if not 0 <= months_back <= MAX_MONTHS or not 0 <= months_ahead <= MAX_MONTHS:
        raise ValueError(f"months back and ahead must be between 0 and {MAX_MONTHS}")
    months = partition_months(
        now=now or timezone.now(), months_back=months_back, months_ahead=months_ahead
    )
    partitions: list[str] = []
    created: list[str] = []
    with connection.cursor() as cursor:
        for month in months:
            name = f"ingestion_event_{month:%Y%m}"
            cursor.execute("SELECT to_regclass(%s) IS NULL", [f"public.{name}"])
            missing = cursor.fetchone()[0]
            cursor.execute("SELECT productgraph_ensure_event_partition(%s)", [month])
            partitions.append(cursor.fetchone()[0])  # the default one when it holds the month
            if missing and partitions[-1] == name:
                created.append(name)
    return PartitionsResult(partitions=partitions, created=created)
