"""The sessions tasks (sessions/tasks.py): the fold task on a real Celery worker (in a thread,
on the real Redis broker), and the sweep."""

from __future__ import annotations

import time
from datetime import timedelta

from celery.contrib.testing.worker import start_worker
from django.test import Client

from productgraph.celery import app
from productgraph.keyspace import redis_key
from sessions import fold_queue, tasks
from tests.conftest import make_tenant
from tests.ingestion.helpers import RECENT, event, post
from tests.sessions.helpers import seed_events, sessions_of


def test_a_posted_batch_becomes_a_session_without_a_manual_step(committed):
    acme = make_tenant("acme")
    app.control.purge()
    bookkeeping = fold_queue.redis_client()
    stale = bookkeeping.keys(redis_key("sessions", "*"))
    if stale:  # ids restart between tests: forget earlier tests' marks and schedules
        bookkeeping.delete(*stale)
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
