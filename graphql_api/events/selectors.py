"""Reads of events behind the GraphQL API: keyset pages (analytics live in `analytics/`).

Every read filters by org and project first (RLS enforces the org as well) and pages by
keyset: `(timestamp, id)` for the project's event stream, and session order
`(timestamp, sequence NULLS LAST, id)` for a session's events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

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
