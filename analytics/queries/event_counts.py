"""Event counts over time (the `eventCounts` field): the query and its series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from analytics.errors import QueryError
from ingestion.catalog import EVENT_TYPES


class Interval(StrEnum):
    """Bucket widths of an event-count series (UTC; weeks start on Monday)."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


_STEPS = {
    Interval.HOUR: timedelta(hours=1),
    Interval.DAY: timedelta(days=1),
    Interval.WEEK: timedelta(weeks=1),
}

# Event fields a series may be split by: text and integer catalog columns.
GROUPABLE_KEYS: tuple[str, ...] = (
    "event.type",
    "event.name",
    "page.path",
    "user.id",
    "ui.component.name",
    "ui.action",
    "gen_ai.journey.id",
    "gen_ai.journey.step.id",
    "gen_ai.journey.conversion.status",
    "api.method",
    "api.path",
    "api.status_code",
    "error.type",
    "error.component",
)
MAX_BUCKETS = 5000
MAX_GROUPS = 100
DEFAULT_GROUPS = 20


@dataclass(frozen=True)
class SeriesPoint:
    """The number of events in one bucket."""

    bucket: datetime
    count: int


@dataclass(frozen=True)
class Series:
    """One group's points, every bucket of the range included (zeros too)."""

    group: str | None
    total: int
    points: list[SeriesPoint]


def bucket_start(moment: datetime, interval: Interval) -> datetime:
    """Return the start of the UTC bucket holding `moment` (as `date_trunc` computes it)."""
    moment = moment.astimezone(UTC)
    start = moment.replace(minute=0, second=0, microsecond=0)
    if interval is Interval.HOUR:
        return start
    start = start.replace(hour=0)
    if interval is Interval.DAY:
        return start
    return start - timedelta(days=start.weekday())


@dataclass(frozen=True)
class EventCountsQuery:
    """A project's events per time bucket in [since, until), optionally split by one field.

    With `group_by`, the `max_groups` groups with the most events in the range are returned,
    largest first (ties by value); events of other groups are left out. An absent value
    (NULL) is a group of its own. Without `group_by` there is exactly one series. The org is
    not a field: a store scopes every query by the org of the caller's context.
    """

    project_id: int
    since: datetime
    until: datetime
    interval: Interval
    group_by: str | None = None  # a wire key from GROUPABLE_KEYS
    types: tuple[str, ...] = ()
    max_groups: int = DEFAULT_GROUPS

    def validate(self) -> None:
        """Raise QueryError listing every problem of the query."""
        errors: list[str] = []
        if self.since.tzinfo is None or self.until.tzinfo is None:
            errors.append("from and to must carry a time zone")
        elif self.since >= self.until:
            errors.append("from must be before to")
        else:
            try:
                buckets = len(self.buckets())
            except OverflowError:  # a bucket start before year 1 or past 9999
                errors.append("from and to must be between years 1 and 9999")
            else:
                if buckets > MAX_BUCKETS:
                    errors.append(
                        f"the range holds more than {MAX_BUCKETS} {self.interval} buckets: "
                        "choose a wider interval or a shorter range"
                    )
        if self.group_by is not None and self.group_by not in GROUPABLE_KEYS:
            errors.append(f"cannot group by {self.group_by!r}")
        if not 1 <= self.max_groups <= MAX_GROUPS:
            errors.append(f"maxGroups must be from 1 to {MAX_GROUPS}")
        unknown = sorted(set(self.types) - set(EVENT_TYPES))
        if unknown:
            errors.append(f"unknown event type(s): {', '.join(unknown)}")
        if errors:
            raise QueryError(errors)

    def buckets(self) -> list[datetime]:
        """Every bucket start from the one holding `since` to the last before `until`."""
        step = _STEPS[self.interval]
        first = bucket_start(self.since, self.interval)
        count = -(-(self.until - first) // step)  # ceiling division
        if count > MAX_BUCKETS:
            return [first] * (MAX_BUCKETS + 1)  # enough to fail validation without the list
        return [first + step * index for index in range(count)]

    def series(self, counts: dict[str | None, dict[datetime, int]]) -> list[Series]:
        """The series from a store's counts per group and bucket: zero-filled, largest first."""
        if self.group_by is None:
            counts.setdefault(None, {})
        buckets = self.buckets()
        series = [
            Series(
                group=group,
                total=sum(by_bucket.values()),
                points=[SeriesPoint(bucket, by_bucket.get(bucket, 0)) for bucket in buckets],
            )
            for group, by_bucket in counts.items()
        ]
        return sorted(series, key=lambda s: (-s.total, s.group is not None, s.group or ""))
