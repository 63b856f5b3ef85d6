"""Sessions' side of ingestion's hand-offs (ingestion/signals.py)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from ingestion.signals import events_purged, events_stored
from sessions.fold_queue import sessions_mark_touched
from sessions.services import sessions_prune_orphans


@receiver(events_stored, dispatch_uid="sessions.mark_touched")
def mark_touched(sender: Any, *, org_id: int, project_id: int, session_ids: Any, **_: Any) -> None:
    """New events: their sessions wait to be folded."""
    sessions_mark_touched(org_id=org_id, project_id=project_id, session_ids=session_ids)


@receiver(events_purged, dispatch_uid="sessions.prune_orphans")
def prune_orphans(sender: Any, *, org_id: int, **_: Any) -> None:
    """Events purged: the sessions built only from them go too."""
    sessions_prune_orphans(org_id=org_id)
