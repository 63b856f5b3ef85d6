"""Celery tasks of session aggregation. Each takes ids, runs in that org's context."""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from orgs.selectors import project_list
from productgraph.metrics import fold_timer
from productgraph.tenancy.context import org_context
from sessions import fold_queue, services
from sessions.selectors import sessions_stale

SWEEP_WINDOW = timedelta(hours=1)
_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 8,
}


# A fold of 500 sessions takes ~0.3 s (1,559 sessions/s in docs/performance.md): stopped
# after 60 s, a fold that stalls holds the one worker, and every other org's folds behind
# it, a minute rather than the default four.
FOLD_SOFT_TIME_LIMIT = 60
FOLD_TIME_LIMIT = 90


@shared_task(
    name=fold_queue.FOLD_TASK,
    bind=True,
    soft_time_limit=FOLD_SOFT_TIME_LIMIT,
    time_limit=FOLD_TIME_LIMIT,
    **_RETRY,
)
def fold_touched_sessions(self: Task, org_id: int, project_id: int, shard: int = 0) -> int:
    """Fold the sessions ingestion marked in a project's shard; reschedule if more wait.

    The marks it takes are held under its task id until the fold commits: if the worker
    dies, the redelivered task (same id) folds them again. A fold that fails, or reaches its
    soft time limit (SoftTimeLimitExceeded), rolls back and puts its marks back for the
    shard's next fold, without scheduling one itself (a batch that timed out would only
    time out again); the sweep refolds whatever they still miss.
    """
    where = {"org_id": org_id, "project_id": project_id, "shard": shard}
    task_id = self.request.id
    taken = fold_queue.sessions_take_touched(**where, limit=services.FOLD_BATCH, task_id=task_id)
    try:
        with fold_timer(), transaction.atomic(), org_context(org_id):
            written = services.sessions_fold(
                org_id=org_id, project_id=project_id, session_ids=taken
            )
    except Exception:
        fold_queue.sessions_remark(org_id=org_id, project_id=project_id, session_ids=taken)
        fold_queue.sessions_release_held(**where, task_id=task_id)
        fold_queue.sessions_release_schedule(**where)
        raise
    fold_queue.sessions_release_held(**where, task_id=task_id)
    if fold_queue.sessions_release_schedule(**where):
        backlog = len(taken) == services.FOLD_BATCH
        fold_queue.sessions_schedule_fold(
            **where, countdown=0 if backlog else fold_queue.FOLD_DELAY_SECONDS
        )
    return written


@shared_task(name="sessions.sweep_org", **_RETRY)
def sweep_org(org_id: int, since: str | None = None) -> int:
    """Refold the org's sessions whose rows miss recently received events (lost marks)."""
    cutoff = datetime.fromisoformat(since) if since else timezone.now() - SWEEP_WINDOW
    written = 0
    with transaction.atomic(), org_context(org_id):
        for project in project_list(org_id=org_id):
            stale = sessions_stale(org_id=org_id, project_id=project.pk, since=cutoff)
            for start in range(0, len(stale), services.FOLD_BATCH):
                written += services.sessions_fold(
                    org_id=org_id,
                    project_id=project.pk,
                    session_ids=stale[start : start + services.FOLD_BATCH],
                )
    return written


@shared_task(name="sessions.close_idle_org", **_RETRY)
def close_idle_org(org_id: int) -> int:
    """End the org's sessions that have been idle past their project's timeout."""
    with transaction.atomic(), org_context(org_id):
        return services.sessions_close_idle(org_id=org_id)
