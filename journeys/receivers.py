"""Journeys' side of the sessions' hand-offs (sessions/signals.py)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from journeys.services import (
    journeys_match_sessions,
    journeys_prune_orphans,
    journeys_rematch_pending,
)
from sessions.signals import sessions_closed, sessions_folded, sessions_pruned


@receiver(sessions_folded, dispatch_uid="journeys.match_folded")
def match_folded(sender: Any, *, org_id: int, project_id: int, session_ids: Any, **_: Any) -> None:
    """Folded sessions are matched against the project's journeys, in the fold's transaction."""
    journeys_match_sessions(org_id=org_id, project_id=project_id, session_ids=session_ids)


@receiver(sessions_pruned, dispatch_uid="journeys.prune_orphans")
def prune_orphans(sender: Any, *, org_id: int, **_: Any) -> None:
    """Deleted sessions take their journey rows with them."""
    journeys_prune_orphans(org_id=org_id)


@receiver(sessions_closed, dispatch_uid="journeys.rematch_closed")
def rematch_closed(
    sender: Any, *, org_id: int, project_id: int, session_ids: Any, **_: Any
) -> None:
    """A closed session whose journey was `pending` is matched again at once: it becomes
    bounced, dropped or abandoned now, not at the next journey refresh."""
    journeys_rematch_pending(org_id=org_id, project_id=project_id, session_ids=session_ids)
