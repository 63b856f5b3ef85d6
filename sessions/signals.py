"""What sessions tell the apps downstream (journeys): sent inside the caller's transaction
and org context, so a receiver's writes commit or roll back with the sessions'."""

from django.dispatch import Signal

# Sessions were recomputed from their events: `org_id`, `project_id`, `session_ids`.
sessions_folded = Signal()

# Sessions none of whose events remain were deleted: `org_id`.
sessions_pruned = Signal()

# Active sessions idle past their project's timeout were ended: `org_id`, `project_id`,
# `session_ids`.
sessions_closed = Signal()
