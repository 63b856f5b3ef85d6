"""Reads of events behind the GraphQL API: keyset pages and the event-count runner.

Every read filters by org and project first (RLS enforces the org as well) and pages by
keyset: `(timestamp, id)` for the project's event stream, and session order
`(timestamp, sequence NULLS LAST, id)` for a session's events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from ingestion.catalog import BY_KEY, EVENT_TYPES
from ingestion.models import Event

SESSION_ORDER = ("timestamp", F("sequence").asc(nulls_last=True), "id")


@dataclass(frozen=True)
class EventFilter:
    """Which events of a project to list; every given criterion must hold."""

    types: tuple[str, ...] = ()
    session_id: str | None = None
    user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page_path: str | None = None
    journey_key: str | None = None


def _filtered(events: QuerySet[Event], criteria: EventFilter) -> QuerySet[Event]:
    if criteria.types:
        events = events.filter(event_type__in=criteria.types)
    if criteria.session_id is not None:
        events = events.filter(session_id=criteria.session_id)
    if criteria.user_id is not None:
        events = events.filter(user_id=criteria.user_id)
    if criteria.since is not None:
        events = events.filter(timestamp__gte=criteria.since)
    if criteria.until is not None:
        events = events.filter(timestamp__lt=criteria.until)
    if criteria.page_path is not None:
        events = events.filter(page_path=criteria.page_path)
    if criteria.journey_key is not None:
        events = events.filter(journey_key=criteria.journey_key)
    return events


def event_page(
    *,
    org_id: int,
    project_id: int,
    criteria: EventFilter,
    first: int,
    after: tuple[datetime, int] | None,
) -> list[Event]:
    """Return up to `first + 1` events after the position `after`, by (timestamp, id)."""
    events = _filtered(Event.objects.filter(org_id=org_id, project_id=project_id), criteria)
    if after is not None:
        timestamp, row_id = after
        # The plain bound lets PostgreSQL prune older partitions; the OR is the keyset.
        events = events.filter(timestamp__gte=timestamp).filter(
            Q(timestamp__gt=timestamp) | Q(timestamp=timestamp, id__gt=row_id)
        )
    return list(events.order_by("timestamp", "id")[: first + 1])


def _after_in_session_order(position: tuple[datetime, int | None, int]) -> Q:
    timestamp, sequence, row_id = position
    if sequence is None:  # NULL sequences sort last within a timestamp
        later_here = Q(sequence__isnull=True, id__gt=row_id)
    else:
        later_here = (
            Q(sequence__isnull=True)
            | Q(sequence__gt=sequence)
            | Q(sequence=sequence, id__gt=row_id)
        )
    return Q(timestamp__gt=timestamp) | (Q(timestamp=timestamp) & later_here)


def session_event_pages(
    keys: Sequence[tuple[int, str]],
    *,
    org_id: int,
    first: int,
    after: tuple[datetime, int | None, int] | None,
) -> dict[tuple[int, str], list[Event]]:
    """Up to `first + 1` events of each (project id, session id), in session order.

    One query per project among the keys (a page of sessions has one): a window function
    numbers each session's events, so every session gets its own page.
    """
    by_project: dict[int, list[str]] = defaultdict(list)
    for project_id, session_id in keys:
        by_project[project_id].append(session_id)
    pages: dict[tuple[int, str], list[Event]] = {}
    for project_id, session_ids in by_project.items():
        events = Event.objects.filter(
            org_id=org_id, project_id=project_id, session_id__in=session_ids
        )
        if after is not None:
            events = events.filter(timestamp__gte=after[0]).filter(_after_in_session_order(after))
        ranked = (
            events.annotate(
                position=Window(RowNumber(), partition_by=[F("session_id")], order_by=SESSION_ORDER)
            )
            .filter(position__lte=first + 1)
            .order_by("session_id", *SESSION_ORDER)
        )
        for event in ranked:
            pages.setdefault((project_id, event.session_id), []).append(event)  # type: ignore[attr-defined]
    return pages


# --- event counts ------------------------------------------------------------------------


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


class EventCountsError(ValueError):
    """An event-count query that cannot run (bad range, too many buckets, ...)."""


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
    """Events per time bucket in [since, until), optionally split by one event field.

    With `group_by`, the `max_groups` groups with the most events in the range are returned,
    largest first (ties by value); events of other groups are left out. An absent value
    (NULL) is a group of its own. Without `group_by` there is exactly one series.
    """

    org_id: int
    project_id: int
    since: datetime
    until: datetime
    interval: Interval
    group_by: str | None = None  # a wire key from GROUPABLE_KEYS
    types: tuple[str, ...] = ()
    max_groups: int = DEFAULT_GROUPS

    def validate(self) -> None:
        """Raise EventCountsError naming the first problem."""
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise EventCountsError("from and to must carry a time zone")
        if self.since >= self.until:
            raise EventCountsError("from must be before to")
        try:
            buckets = len(self.buckets())
        except OverflowError:  # a bucket start before year 1 or past 9999
            raise EventCountsError("from and to must be between years 1 and 9999") from None
        if buckets > MAX_BUCKETS:
            raise EventCountsError(
                f"the range holds more than {MAX_BUCKETS} {self.interval} buckets: "
                "choose a wider interval or a shorter range"
            )
        if self.group_by is not None and self.group_by not in GROUPABLE_KEYS:
            raise EventCountsError(f"cannot group by {self.group_by!r}")
        if not 1 <= self.max_groups <= MAX_GROUPS:
            raise EventCountsError(f"maxGroups must be from 1 to {MAX_GROUPS}")
        unknown = sorted(set(self.types) - set(EVENT_TYPES))
        if unknown:
            raise EventCountsError(f"unknown event type(s): {', '.join(unknown)}")

    def buckets(self) -> list[datetime]:
        """Every bucket start from the one holding `since` to the last before `until`."""
        step = _STEPS[self.interval]
        first = bucket_start(self.since, self.interval)
        count = -(-(self.until - first) // step)  # ceiling division
        if count > MAX_BUCKETS:
            return [first] * (MAX_BUCKETS + 1)  # enough to fail validation without the list
        return [first + step * index for index in range(count)]

    def to_sql(self) -> tuple[str, list[Any]]:
        """Return the SQL and its parameters (validated input only: columns are whitelisted)."""
        group = f"{BY_KEY[self.group_by].column}::text" if self.group_by else "NULL::text"
        params: list[Any] = [str(self.interval), self.org_id, self.project_id]
        params += [self.since, self.until]
        types = ""
        if self.types:
            types = " AND event_type = ANY(%s)"
            params.append(list(self.types))
        params.append(self.max_groups)
        sql = f"""
            WITH counts AS (
                SELECT date_trunc(%s, timestamp, 'UTC') AS bucket, {group} AS grp,
                       count(*) AS n
                FROM {Event._meta.db_table}
                WHERE org_id = %s AND project_id = %s AND timestamp >= %s AND timestamp < %s
                      {types}
                GROUP BY 1, 2
            ), top_groups AS (
                SELECT grp FROM counts GROUP BY grp
                ORDER BY sum(n) DESC, grp ASC NULLS FIRST LIMIT %s
            )
            SELECT c.bucket, c.grp, c.n
            FROM counts c JOIN top_groups t ON t.grp IS NOT DISTINCT FROM c.grp
        """  # noqa: S608 - the group column comes from the catalog whitelist
        return sql, params

    def run(self) -> list[Series]:
        """Validate, run, and return the series, zero-filled, largest total first."""
        self.validate()
        sql, params = self.to_sql()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        counts: dict[str | None, dict[datetime, int]] = defaultdict(dict)
        for bucket, group, n in rows:
            counts[group][bucket] = n
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
