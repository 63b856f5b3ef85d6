"""What ingestion tells the apps downstream (docs/reference/api.md; ADR 0003).

Ingestion imports no app above it: sessions (and whatever else) learn of stored and purged
events by receiving these, in their own `receivers.py`. Both are sent with `send`, not
`send_robust`: a receiver that fails fails its sender, as a direct call did.
"""

from django.dispatch import Signal

# After the request's transaction commits: `org_id`, `project_id`, `session_ids` (the
# sessions the batch's new events belong to). Sessions marks them for folding.
events_stored = Signal()

# Inside the purge's last transaction, in the org's context: `org_id`. Sessions deletes the
# sessions none of whose events remain.
events_purged = Signal()
