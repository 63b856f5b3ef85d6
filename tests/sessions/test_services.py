"""The fold (sessions/services.py) against real PostgreSQL: values, idempotency, late and
out-of-order events, rebuild equals incremental, a failed fold, idle close."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections, transaction
from django.test import Client

from productgraph.tenancy.context import org_context
from sessions import services
from sessions.models import Session
from tests.conftest import make_tenant
from tests.ingestion.helpers import event, post
from tests.sessions.helpers import CHROME, at, facts, fold, seed_events, sessions_of


def test_a_posted_batch_folds_into_one_session_with_the_right_values(client, acme):
    seed_events(client, acme)
    assert fold(acme, "sess_001") == 1
    session = sessions_of(acme)["sess_001"]
    assert (session.event_count, session.page_view_count, session.error_count) == (3, 2, 1)
    assert (session.entry_page, session.exit_page) == ("/home", "/pricing")
    assert session.duration_ms == 60_000
    assert session.ended_at == session.last_event_at, "an hour idle: ended"
    assert not session.is_active
    assert (session.browser, session.os, session.device_type) == ("Chrome", "Windows", "desktop")


def test_a_crafted_user_agent_cannot_stop_a_fold(client, acme):
    # ua-parser copies the family out of the agent: 150 characters here, for a varchar(100).
    crafted = "A" * 150 + "/1.0 CFNetwork/1.0 Darwin/20.0"
    post(client, acme.ingest_key, {"events": [event()]}, HTTP_USER_AGENT=crafted)
    other = event(event_id="evt_002")
    other["session.id"] = "sess_002"
    post(client, acme.ingest_key, {"events": [other]}, HTTP_USER_AGENT=CHROME)
    assert fold(acme, "sess_001", "sess_002") == 2
    session = sessions_of(acme)["sess_001"]
    assert session.user_agent == crafted and session.browser == "A" * 100


def test_refolding_is_idempotent_and_late_events_recompute(client, acme):
    seed_events(client, acme)
    fold(acme, "sess_001")
    fold(acme, "sess_001")
    late = event(event_id="0", page__path="/landing", event__timestamp=at(-60))
    post(client, acme.ingest_key, {"events": [late]})
    fold(acme, "sess_001")
    session = sessions_of(acme)["sess_001"]
    assert (session.event_count, session.entry_page, session.duration_ms) == (
        4,
        "/landing",
        120_000,
    )
    assert len(sessions_of(acme)) == 1


def test_a_recent_session_is_active_until_closed(client, acme):
    now = datetime.now(tz=UTC)
    post(client, acme.ingest_key, {"events": [event(event__timestamp=now.isoformat())]})
    fold(acme, "sess_001")
    assert sessions_of(acme)["sess_001"].is_active
    with transaction.atomic(), org_context(acme.org.pk):
        assert (
            services.sessions_close_idle(org_id=acme.org.pk, now=now + timedelta(minutes=31)) == 1
        )
    session = sessions_of(acme)["sess_001"]
    assert session.ended_at == session.last_event_at and not session.is_active


def test_five_concurrent_folds_leave_identical_rows(committed):
    acme = make_tenant("acme")
    batch = [
        event(event_id=str(i), session__id=f"s{i % 5}", page__path=f"/p{i % 3}") for i in range(50)
    ]
    post(Client(), acme.ingest_key, {"events": batch})
    ids = [f"s{i}" for i in range(5)]
    barrier = threading.Barrier(5)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            fold(acme, *ids)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    first = {
        k: (s.event_count, s.entry_page, s.exit_page, s.duration_ms)
        for k, s in sessions_of(acme).items()
    }
    fold(acme, *ids)
    again = {
        k: (s.event_count, s.entry_page, s.exit_page, s.duration_ms)
        for k, s in sessions_of(acme).items()
    }
    assert first == again and len(first) == 5
    assert sum(v[0] for v in first.values()) == 50


def test_folding_batch_by_batch_equals_one_rebuild_in_any_arrival_order(client, acme):
    """Late and out-of-order arrivals: three sessions' events posted newest batch first,
    folded after each batch, give the rows one fold of everything gives."""
    events = [
        event(event_id=f"e{i}", session__id=f"s{i % 3}", page__path=f"/p{i % 4}",
              event__timestamp=at(i * 7), event__sequence=i)
        for i in range(30)
    ]  # fmt: skip
    ids = ["s0", "s1", "s2"]
    for start in (20, 10, 0):  # the newest first
        post(client, acme.ingest_key, {"events": events[start : start + 10]})
        fold(acme, *ids)
    incremental = facts(acme)
    with transaction.atomic(), org_context(acme.org.pk):
        Session.objects.filter(org_id=acme.org.pk).delete()
    fold(acme, *ids)
    assert facts(acme) == incremental
    assert len(incremental) == 3
    assert sum(session.event_count for session in sessions_of(acme).values()) == 30


def test_a_fold_that_fails_leaves_the_rows_as_they_were_and_a_retry_converges(
    client, acme, monkeypatch
):
    seed_events(client, acme)
    fold(acme, "sess_001")
    before = facts(acme)
    late = event(event_id="0", page__path="/landing", event__timestamp=at(-60))
    post(client, acme.ingest_key, {"events": [late]})

    def fail(**kwargs):
        raise RuntimeError("the worker died after writing the rows")

    from sessions import signals

    monkeypatch.setattr(signals.sessions_folded, "send", fail)
    with pytest.raises(RuntimeError):
        fold(acme, "sess_001")
    assert facts(acme) == before, "the failed fold's transaction rolled back"
    monkeypatch.undo()
    fold(acme, "sess_001")
    assert sessions_of(acme)["sess_001"].entry_page == "/landing"
