"""Reads of journeys behind the GraphQL API."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from journeys.models import Journey, SessionJourney


def journey_list(*, org_id: int, project_id: int) -> list[Journey]:
    """Return a project's journeys by key."""
    return list(Journey.objects.filter(org_id=org_id, project_id=project_id).order_by("key"))


def journey_get(*, org_id: int, project_id: int, key: str) -> Journey | None:
    """Return a project's journey with `key`, or None."""
    return Journey.objects.filter(org_id=org_id, project_id=project_id, key=key).first()


def journey_get_scoped(
    *, org_id: int, journey_pk: int, project_ids: frozenset[int] | None
) -> Journey | None:
    """Return a journey by database id if it is in one of `project_ids` (None: any)."""
    journeys = Journey.objects.filter(org_id=org_id, pk=journey_pk)
    if project_ids is not None:
        journeys = journeys.filter(project_id__in=project_ids)
    return journeys.first()


def session_journeys_by_session(
    keys: Sequence[tuple[int, str]], *, org_id: int
) -> dict[tuple[int, str], list[SessionJourney]]:
    """Each (project id, session id)'s journey rows with their journey, newest entry first.

    One query per project among the keys (a loader's fetch; a page of sessions has one).
    """
    by_project: dict[int, list[str]] = defaultdict(list)
    for project_id, session_id in keys:
        by_project[project_id].append(session_id)
    found: dict[tuple[int, str], list[SessionJourney]] = {}
    for project_id, session_ids in by_project.items():
        rows = (
            SessionJourney.objects.filter(
                org_id=org_id, project_id=project_id, session_id__in=session_ids
            )
            .select_related("journey")
            .order_by("session_id", "-entered_at", "pk")
        )
        for row in rows:
            found.setdefault((project_id, row.session_id), []).append(row)
    return found
