"""Celery tasks of journeys: take ids, run in the org's context, safe to retry."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction

from journeys.models import Journey, SessionJourney
from journeys.services import (
    journey_metrics_refresh,
    journey_needs_rematch,
    journeys_match_sessions,
    journeys_refresh_project,
)
from orgs.selectors import project_list
from productgraph.tenancy.context import org_context

# A project whose journey was saved is re-matched in full: 19 s per 100,000 sessions
# (docs/performance.md), so 600 s covers some 3 million; the hard limit stays below the
# broker's 900 s visibility timeout (a longer task would be delivered twice).
REFRESH_SOFT_TIME_LIMIT = 600
REFRESH_TIME_LIMIT = 720


@shared_task(
    name="journeys.refresh_org",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=REFRESH_SOFT_TIME_LIMIT,
    time_limit=REFRESH_TIME_LIMIT,
)
def refresh_org(org_id: int) -> int:
    """Re-match the org's pending sessions (a safety net for the idle close); refresh metrics.

    A project with a journey saved since its last refresh (new, or its definition changed)
    has every session re-matched instead, so its rows and metrics describe the definition
    it has now.
    """
    rematched = 0
    with transaction.atomic(), org_context(org_id):
        for project in project_list(org_id=org_id):
            journeys = list(Journey.objects.filter(org_id=org_id, project=project))
            if any(journey_needs_rematch(journey) for journey in journeys):
                rematched += journeys_refresh_project(org_id=org_id, project_id=project.pk)
                continue
            pending = list(
                SessionJourney.objects.filter(
                    org_id=org_id, project=project, status=SessionJourney.Status.PENDING
                )
                .values_list("session_id", flat=True)
                .distinct()
            )
            for start in range(0, len(pending), 500):
                rematched += journeys_match_sessions(
                    org_id=org_id, project_id=project.pk, session_ids=pending[start : start + 500]
                )
            for journey in journeys:
                journey_metrics_refresh(journey=journey)
    return rematched
