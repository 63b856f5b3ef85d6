"""The sessions tasks (sessions/tasks.py), on the real PostgreSQL and Redis: the fold task on
a real Celery worker (in a thread, on the real broker), batch by batch as the operator's
rebuild, a fold that fails and its retry; the sweep; the idle close."""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import timedelta

from celery.contrib.testing.worker import start_worker
from celery.signals import task_retry
from django.core.management import call_command
from django.db import OperationalError, transaction
from django.test import Client

from productgraph.celery import app
from productgraph.keyspace import redis_key
from productgraph.tenancy.context import org_context
from sessions import fold_queue, tasks
from sessions.models import Session
from tests.conftest import database_down, make_tenant
from tests.ingestion.helpers import RECENT, event, post
from tests.sessions.helpers import at, facts, fold, forget_marks, seed_events, sessions_of


def test_a_posted_batch_becomes_a_session_without_a_manual_step(committed):
    acme = make_tenant("acme")
    app.control.purge()
    forget_marks()
    with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        batch = [
            event(event_id="1", page__path="/home"),
            event(
                event_id="2",
                page__path="/cart",
                event__timestamp=(RECENT + timedelta(minutes=1)).isoformat(),
            ),
            event(
                event_id="3",
                page__path="/pay",
                event__timestamp=(RECENT + timedelta(minutes=2)).isoformat(),
            ),
        ]
        assert post(Client(), acme.ingest_key, {"events": batch}).status_code == 202
        deadline = time.monotonic() + 20
        session = None
        while time.monotonic() < deadline:
            session = sessions_of(acme).get("sess_001")
            if session is not None:
                break
            time.sleep(0.2)
    assert session is not None, "the worker did not fold the session within 20 s"
    assert (session.event_count, session.entry_page, session.exit_page) == (3, "/home", "/pay")


def test_the_sweep_refolds_only_stale_sessions(client, acme):
    seed_events(client, acme)
    since = "2000-01-01T00:00:00+00:00"
    assert tasks.sweep_org.run(acme.org.pk, since) == 1
    assert tasks.sweep_org.run(acme.org.pk, since) == 0, "nothing new: nothing refolded"


def test_folding_by_task_batch_by_batch_equals_the_operators_rebuild(committed, capsys):
    """The production path: ingestion marks the sessions after commit, the fold task takes
    each shard's marks. Batches come newest first, each resending an event of the one before
    (a client's retry), one with an event older than its session's first: the rows equal
    what `manage.py aggregate_sessions` rebuilds from nothing."""
    acme = make_tenant("acme")
    forget_marks()
    events = [
        event(event_id=f"e{i}", session__id=f"s{i % 5}", page__path=f"/p{i % 3}",
              event__type="error" if i % 7 == 0 else "page.view",
              event__timestamp=at(i * 11), event__sequence=i)
        for i in range(40)
    ]  # fmt: skip
    late = event(
        event_id="late", session__id="s1", page__path="/landing", event__timestamp=at(-300)
    )
    batches = [
        events[30:],
        events[20:30] + events[30:31],
        events[10:20] + events[20:21] + [late],
        events[:10] + events[10:11],
    ]
    where = {"org_id": acme.org.pk, "project_id": acme.project.pk}
    for number, batch in enumerate(batches):
        assert post(Client(), acme.ingest_key, {"events": batch}).status_code == 202
        assert fold_queue.sessions_pending(**where) > 0, "ingestion marked the sessions"
        for shard in range(fold_queue.FOLD_SHARDS):
            tasks.fold_touched_sessions.apply(
                args=[acme.org.pk, acme.project.pk, shard], task_id=f"b{number}-{shard}", throw=True
            )
        assert fold_queue.sessions_pending(**where) == 0
    incremental = facts(acme)
    sessions = sessions_of(acme)
    assert len(sessions) == 5 and sum(s.event_count for s in sessions.values()) == 41
    assert sessions["s1"].entry_page == "/landing", "the late event starts its session"
    with transaction.atomic(), org_context(acme.org.pk):
        Session.objects.filter(org_id=acme.org.pk).delete()
    call_command("aggregate_sessions", "--org", "acme")
    assert facts(acme) == incremental


def test_a_fold_that_fails_puts_its_marks_back_and_its_retry_folds(committed):
    """PostgreSQL goes away under a fold: the task puts its marks back, holds none, lets the
    next mark schedule a fold, and raises; Celery retries it (same task id), the database
    back, and the retry folds the session."""
    acme = make_tenant("acme")
    forget_marks()
    assert post(Client(), acme.ingest_key, {"events": [event()]}).status_code == 202
    where = {"org_id": acme.org.pk, "project_id": acme.project.pk}
    assert fold_queue.sessions_pending(**where) == 1, "ingestion marked the session"
    redis = fold_queue.redis_client()
    outage = ExitStack()
    outage.enter_context(database_down())
    at_retry: dict = {}

    def database_back(sender=None, reason=None, **_):
        at_retry.update(
            task=sender.name,
            cause=reason.exc,
            pending=fold_queue.sessions_pending(**where),
            held=redis.keys(redis_key("sessions", "held", "*")),
            scheduled=redis.keys(redis_key("sessions", "scheduled", "*")),
        )
        outage.close()

    task_retry.connect(database_back, weak=False)
    try:
        result = tasks.fold_touched_sessions.apply(
            args=[acme.org.pk, acme.project.pk, fold_queue.session_shard("sess_001")],
            task_id="fold-1",
        )
    finally:
        task_retry.disconnect(database_back)
        outage.close()
    assert at_retry, "the fold did not fail: no retry"
    assert at_retry["task"] == fold_queue.FOLD_TASK
    assert isinstance(at_retry["cause"], OperationalError), at_retry["cause"]
    assert at_retry["pending"] == 1, "the failed fold put its mark back"
    assert at_retry["held"] == [] and at_retry["scheduled"] == []
    assert result.successful() and result.result == 1, "the retry folded the session"
    assert sessions_of(acme)["sess_001"].event_count == 1
    assert fold_queue.sessions_pending(**where) == 0
    assert not redis.keys(redis_key("sessions", "held", "*"))


def test_the_close_task_ends_the_orgs_sessions_idle_past_their_timeout(client, acme):
    seed_events(client, acme)  # an hour ago
    fold(acme, "sess_001", now=RECENT + timedelta(minutes=2))  # folded while it was live
    assert sessions_of(acme)["sess_001"].is_active
    assert tasks.close_idle_org.run(acme.org.pk) == 1
    session = sessions_of(acme)["sess_001"]
    assert session.ended_at == session.last_event_at == RECENT + timedelta(seconds=60)
    assert tasks.close_idle_org.run(acme.org.pk) == 0, "closed once"
