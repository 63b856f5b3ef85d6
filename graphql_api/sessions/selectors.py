"""Reads of sessions behind the GraphQL API: a keyset page, newest activity first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from sessions.models import Session


@dataclass(frozen=True)
class SessionFilter:
    """Which sessions of a project to list; every given criterion must hold.

    `since` / `until` select sessions with activity in [since, until): the session's last
    event is at or after `since` and its first event before `until`.
    """

    active: bool | None = None
    user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    has_errors: bool | None = None
    entry_page: str | None = None


def session_page(
    *,
    org_id: int,
    project_id: int,
    criteria: SessionFilter,
    first: int,
    after: tuple[datetime, int] | None,
) -> list[Session]:
    """Return up to `first + 1` sessions after `after`, by (last_event_at, id) descending."""
    sessions = Session.objects.filter(org_id=org_id, project_id=project_id)
    if criteria.active is not None:
        sessions = sessions.filter(ended_at__isnull=criteria.active)
    if criteria.user_id is not None:
        sessions = sessions.filter(user_id=criteria.user_id)
    if criteria.since is not None:
        sessions = sessions.filter(last_event_at__gte=criteria.since)
    if criteria.until is not None:
        sessions = sessions.filter(started_at__lt=criteria.until)
    if criteria.has_errors is not None:
        sessions = (
            sessions.filter(error_count__gt=0)
            if criteria.has_errors
            else sessions.filter(error_count=0)
        )
    if criteria.entry_page is not None:
        sessions = sessions.filter(entry_page=criteria.entry_page)
    if after is not None:
        last_event_at, row_id = after
        sessions = sessions.filter(last_event_at__lte=last_event_at).filter(
            Q(last_event_at__lt=last_event_at) | Q(last_event_at=last_event_at, pk__lt=row_id)
        )
    return list(sessions.order_by("-last_event_at", "-pk")[: first + 1])


def session_get_scoped(
    *, org_id: int, session_pk: int, project_ids: frozenset[int] | None
) -> Session | None:
    """Return a session by database id if it is in one of `project_ids` (None: any)."""
    sessions = Session.objects.filter(org_id=org_id, pk=session_pk)
    if project_ids is not None:
        sessions = sessions.filter(project_id__in=project_ids)
    return sessions.first()
