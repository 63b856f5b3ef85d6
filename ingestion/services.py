"""Ingest one batch: validate every event, deduplicate, store the valid ones at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from ingestion.models import Event
from ingestion.retention import retention_cutoff
from ingestion.serializers import EventBatchSerializer
from ingestion.signals import events_stored
from ingestion.validation import EventError, Project, ValidEvent
from ingestion.writer import events_write


@dataclass(frozen=True)
class IngestResult:
    """The 202 body: accepted (new or already stored), duplicates, rejected, errors."""

    accepted: int
    duplicates: int
    rejected: int
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the wire form (api.md)."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": self.errors,
        }


def events_validate(
    *, events: list[Any], project: Project, received_at: datetime, retention_days: int
) -> tuple[list[ValidEvent], list[EventError]]:
    """Validate a batch; return the valid events and every error, in index order.

    An event older than the org's retention (`retention_days` before `received_at`, the
    cut-off `purge_events` deletes before) is an error of its own, never stored.
    """
    not_before = retention_cutoff(now=received_at, days=retention_days)
    serializer = EventBatchSerializer(
        context={"project": project, "received_at": received_at, "not_before": not_before}
    )
    return serializer.to_internal_value(events)


def events_ingest(
    *,
    org_id: int,
    project_id: int,
    project: Project,
    events: list[Any],
    received_at: datetime,
    retention_days: int,
    user_agent: str | None,
    user_agents: dict[int, str] | None = None,
) -> IngestResult:
    """Store a batch's valid events exactly once, in the caller's transaction and org.

    `retention_days` is the org's (`Organization.retention_days`): older events are refused.
    `user_agent` is stored with every event but those `user_agents` names by batch position
    (a Segment message's own `context.userAgent`).
    """
    valid, errors = events_validate(
        events=events, project=project, received_at=received_at, retention_days=retention_days
    )
    seen: set[str] = set()
    unique: list[ValidEvent] = []
    for event in valid:
        if event.event_id not in seen:
            seen.add(event.event_id)
            unique.append(event)
    server = (org_id, project_id)
    rows = [
        (
            *event.values,
            *server,
            event.attributes,
            received_at,
            user_agents.get(event.position, user_agent) if user_agents else user_agent,
        )
        for event in unique
    ]
    written = events_write(rows=rows, timestamps=[event.timestamp for event in unique])
    if written.sessions:
        sessions = written.sessions
        transaction.on_commit(  # sessions marks them for folding (sessions/receivers.py)
            lambda: events_stored.send(
                sender=Event, org_id=org_id, project_id=project_id, session_ids=sessions
            )
        )
    return IngestResult(
        accepted=len(valid),
        duplicates=len(valid) - written.inserted,
        rejected=len(events) - len(valid),
        errors=[error.as_dict() for error in errors],
    )
