"""Journey writes: definitions, session matching, stored metrics."""

from __future__ import annotations

import logging
import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import F
from django.utils import timezone

from ingestion.selectors import session_event_dicts
from journeys.conditions import DefinitionError, fields_used, to_sql
from journeys.definitions import DEFAULT_TIMEOUT_MINUTES, JourneyDefinition, parse_definition
from journeys.matching import match_session
from journeys.models import DEFINITION_FIELDS, Journey, SessionJourney
from orgs.models import Project
from sessions.models import Session

logger = logging.getLogger(__name__)


def definition_of(journey: Journey) -> JourneyDefinition:
    """Parse a stored journey's definition (validated when it was saved)."""
    return parse_definition(
        key=journey.key,
        entry=journey.entry,
        steps=journey.steps,
        exit=journey.exit,
        timeout_minutes=journey.timeout_minutes,
    )


def journey_create(
    *,
    project: Project,
    key: str,
    name: str,
    steps: list[Any],
    entry: list[Any] | None = None,
    exit: list[Any] | None = None,
    description: str = "",
    timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES,
    is_active: bool = True,
) -> Journey:
    """Create a journey after validating its definition (DefinitionError lists the problems)."""
    journey = Journey(org_id=project.org_id, project=project, key=key)
    _journey_write(
        journey,
        name=name,
        description=description,
        entry=entry or [],
        steps=steps,
        exit=exit or [],
        timeout_minutes=timeout_minutes,
        is_active=is_active,
    )
    return journey


def journey_update(*, journey: Journey, **changes: Any) -> Journey:
    """Apply `changes` (any of `DEFINITION_FIELDS`; the key and project are fixed) after
    validating the whole definition they make, and bump `definition_version`, so that the
    next refresh re-matches the journey's sessions."""
    unknown = set(changes) - set(DEFINITION_FIELDS)
    if unknown:
        raise TypeError(f"not a journey's definition field: {', '.join(sorted(unknown))}")
    _journey_write(journey, **changes)
    return journey


def journey_deactivate(*, journey: Journey) -> Journey:
    """Stop matching sessions against a journey; its rows and metrics are kept."""
    return journey_update(journey=journey, is_active=False)


def _journey_write(journey: Journey, **fields: Any) -> None:
    """Validate the definition `fields` make with the journey's other values, then save."""
    for name, value in fields.items():
        setattr(journey, name, value)
    parse_definition(
        key=journey.key,
        entry=journey.entry or [],
        steps=journey.steps,
        exit=journey.exit or [],
        timeout_minutes=journey.timeout_minutes,
    )
    if journey.pk is None:
        journey.save()
        return
    version = journey.definition_version
    journey.definition_version = F("definition_version") + 1  # type: ignore[assignment]
    try:
        journey.save()
    except BaseException:
        journey.definition_version = version  # not an F() left on a failed save
        raise
    journey.refresh_from_db(fields=["definition_version"])


_TABLE = SessionJourney._meta.db_table
_UPSERT = f"""
INSERT INTO {_TABLE}
    (org_id, project_id, journey_id, session_id, status, entered_at, last_step_index,
     last_step_id, converted_at, duration_ms, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (journey_id, session_id) DO UPDATE SET
    status = EXCLUDED.status, entered_at = EXCLUDED.entered_at,
    last_step_index = EXCLUDED.last_step_index, last_step_id = EXCLUDED.last_step_id,
    converted_at = EXCLUDED.converted_at, duration_ms = EXCLUDED.duration_ms,
    updated_at = now()
-- A refresh re-matches every session and most answers are unchanged: rewriting them was
-- 16 percent of a 100,000-session refresh (bench/journeys.py); updated_at means "changed".
WHERE ({_TABLE}.status, {_TABLE}.entered_at, {_TABLE}.last_step_index,
       {_TABLE}.last_step_id, {_TABLE}.converted_at, {_TABLE}.duration_ms)
    IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.entered_at, EXCLUDED.last_step_index,
       EXCLUDED.last_step_id, EXCLUDED.converted_at, EXCLUDED.duration_ms)
"""  # noqa: S608 - table name from model metadata


def journeys_match_sessions(*, org_id: int, project_id: int, session_ids: Sequence[str]) -> int:
    """(Re)match these sessions against the project's active journeys; return rows written."""
    journeys = list(Journey.objects.filter(org_id=org_id, project_id=project_id, is_active=True))
    if not journeys or not session_ids:
        return 0
    definitions = _matchable(journeys)
    if not definitions:
        return 0
    fields = {"gen_ai.journey.id", "gen_ai.journey.step.id"}
    for _, definition in definitions:
        fields |= fields_used(definition.entry) | fields_used(definition.exit)
        for step in definition.steps:
            fields |= fields_used(step.match)
    where_params: list[Any] = []
    where = _any_journey_event_sql([definition for _, definition in definitions], where_params)
    events = session_event_dicts(
        org_id=org_id,
        project_id=project_id,
        session_ids=session_ids,
        fields=fields,
        where=(where, where_params),
    )
    sessions = {
        session_id: (is_active, last_event_at)
        for session_id, is_active, last_event_at in Session.objects.filter(
            org_id=org_id, project_id=project_id, session_id__in=list(session_ids)
        ).values_list("session_id", "is_active", "last_event_at")
    }
    rows, stale = [], []
    for journey, definition in definitions:
        for session_id in session_ids:
            session_events = events.get(session_id)
            session = sessions.get(session_id)
            found = (
                match_session(
                    definition,
                    session_events,
                    session_active=session[0],
                    last_event_at=session[1],
                )
                if session_events and session
                else None
            )
            if found is None:
                stale.append((journey.pk, session_id))
                continue
            rows.append(
                (
                    org_id,
                    project_id,
                    journey.pk,
                    session_id,
                    found.status,
                    found.entered_at,
                    found.last_step_index,
                    found.last_step_id,
                    found.converted_at,
                    found.duration_ms,
                )
            )
    with connection.cursor() as cursor:
        if rows:
            cursor.executemany(_UPSERT, rows)
        by_journey: dict[int, list[str]] = {}
        for journey_id, session_id in stale:
            by_journey.setdefault(journey_id, []).append(session_id)
        for journey_id, stale_ids in by_journey.items():  # one DELETE per journey, not per pair
            SessionJourney.objects.filter(
                org_id=org_id, journey_id=journey_id, session_id__in=stale_ids
            ).delete()
    return len(rows)


def _matchable(journeys: Iterable[Journey]) -> list[tuple[Journey, JourneyDefinition]]:
    """The journeys with their definitions, leaving out any that validation now refuses.

    A definition saved before a check was added (a look-around or a back-reference, refused
    since patterns must run in linear time) is logged and not matched, rather than failing
    every fold of its project; saving it with an accepted definition brings it back.
    """
    matchable = []
    for journey in journeys:
        try:
            matchable.append((journey, definition_of(journey)))
        except DefinitionError as exc:
            logger.warning(
                "journey %s (project %s) is not matched: its stored definition is refused: %s",
                journey.key,
                journey.project_id,
                exc,
            )
    return matchable


def _any_journey_event_sql(definitions: Sequence[JourneyDefinition], params: list[Any]) -> str:
    """SQL true for the events any of these journeys can match (entry, steps, exit, tags).

    Matching needs no other event (the session row gives its last event's time), and
    reading only these was measured at 19,500 -> 2,100 rows per 500 generated sessions.
    """
    parts = []
    for definition in definitions:
        for conditions in (definition.entry, definition.exit, *(s.match for s in definition.steps)):
            if conditions:
                parts.append(to_sql(conditions, params, alias="e"))
        params += [definition.key, [step.id for step in definition.steps]]
        parts.append("(e.journey_key = %s AND e.journey_step_id = ANY(%s))")
    return "(" + " OR ".join(parts) + ")"


def journey_metrics_refresh(*, journey: Journey, now: datetime | None = None) -> dict[str, Any]:
    """Recompute and store a journey's metrics from its session rows (absolute values)."""
    rows = list(
        SessionJourney.objects.filter(org_id=journey.org_id, journey=journey).values_list(
            "status", "last_step_index", "duration_ms"
        )
    )
    total = len(rows)
    durations = [duration for status, _, duration in rows if status == "converted"]
    steps = journey.steps
    reached = [
        sum(1 for _, index, _ in rows if index >= position) for position in range(len(steps))
    ]
    per_step = []
    for position, step in enumerate(steps):
        previous = total if position == 0 else reached[position - 1]
        per_step.append(
            {
                "id": step["id"],
                "name": step.get("name") or step["id"],
                "reached": reached[position],
                "drop_off": previous - reached[position],
            }
        )
    by_status = {status: 0 for status in SessionJourney.Status.values}
    for status, _, _ in rows:
        by_status[status] += 1
    metrics = {
        "total_sessions": total,
        "converted": len(durations),
        "conversion_rate": round(len(durations) / total, 4) if total else 0.0,
        "avg_duration_ms": round(statistics.fmean(durations)) if durations else None,
        "median_duration_ms": round(statistics.median(durations)) if durations else None,
        "by_status": by_status,
        "steps": per_step,
    }
    journey.metrics = metrics
    journey.metrics_refreshed_at = now or timezone.now()
    journey.save(update_fields=["metrics", "metrics_refreshed_at"])
    return metrics


def journey_needs_rematch(journey: Journey) -> bool:
    """Was the journey created or saved since its project's sessions were last re-matched?

    Its rows were matched under an older definition, or never: beat's refresh re-matches
    every session of its project.
    """
    return journey.matched_version != journey.definition_version


def journeys_refresh_project(*, org_id: int, project_id: int, rematch: bool = True) -> int:
    """Re-match every session of a project that any journey could concern; refresh metrics."""
    # The versions as they are before the re-match: a save committed meanwhile leaves its
    # journey unequal, for the next refresh.
    versions = dict(
        Journey.objects.filter(org_id=org_id, project_id=project_id).values_list(
            "pk", "definition_version"
        )
    )
    written = 0
    if rematch:
        session_ids = list(
            Session.objects.filter(org_id=org_id, project_id=project_id).values_list(
                "session_id", flat=True
            )
        )
        for start in range(0, len(session_ids), 500):
            written += journeys_match_sessions(
                org_id=org_id, project_id=project_id, session_ids=session_ids[start : start + 500]
            )
    for journey in Journey.objects.filter(org_id=org_id, project_id=project_id):
        journey_metrics_refresh(journey=journey)
        if rematch and journey.pk in versions:
            Journey.objects.filter(org_id=org_id, pk=journey.pk).update(
                matched_version=versions[journey.pk]
            )
    return written


# Sessions re-matched per statement when closed sessions are re-matched.
REMATCH_BATCH = 500


def journeys_prune_orphans(*, org_id: int) -> int:
    """Delete the org's journey rows whose session no longer exists (after retention)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            DELETE FROM {SessionJourney._meta.db_table} j
            WHERE j.org_id = %s AND NOT EXISTS (
                SELECT 1 FROM {Session._meta.db_table} s
                WHERE s.project_id = j.project_id AND s.session_id = j.session_id)
            """,  # noqa: S608 - table names from model metadata
            [org_id],
        )
        return cursor.rowcount


def journeys_rematch_pending(*, org_id: int, project_id: int, session_ids: Sequence[str]) -> int:
    """Match again those of these (just closed) sessions whose journey is still `pending`:
    closed, they are bounced, dropped or abandoned now. Return rows written."""
    pending = sorted(
        set(
            SessionJourney.objects.filter(
                org_id=org_id,
                project_id=project_id,
                status=SessionJourney.Status.PENDING,
                session_id__in=session_ids,
            ).values_list("session_id", flat=True)
        )
    )
    return sum(
        journeys_match_sessions(
            org_id=org_id, project_id=project_id, session_ids=pending[start : start + REMATCH_BATCH]
        )
        for start in range(0, len(pending), REMATCH_BATCH)
    )
