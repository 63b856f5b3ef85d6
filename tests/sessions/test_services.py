"""The fold and the idle close (sessions/services.py) against real PostgreSQL: values,
idempotency, duplicates, late and out-of-order events, rebuild equals incremental, a failed
fold; sessions closed after their own project's timeout, as a refold would end them, and
active again when a later event comes. The fold task, its retries and the operator's rebuild
are in test_tasks.py."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections, transaction
from django.test import Client

from orgs import services as org_services
from orgs.models import Project
from productgraph.tenancy.context import org_context
from sessions import services
from sessions.models import Session
from tests.conftest import make_tenant
from tests.ingestion.helpers import RECENT, event, post
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
    folded = facts(acme)
    fold(acme, "sess_001")
    assert facts(acme) == folded, "a second fold of the same events changes nothing"
    late = event(event_id="0", page__path="/landing", event__timestamp=at(-60))
    post(client, acme.ingest_key, {"events": [late]})
    fold(acme, "sess_001")
    session = sessions_of(acme)["sess_001"]
    assert (session.event_count, session.entry_page, session.duration_ms) == (
        4,
        "/landing",
        120_000,
    )
    assert session.started_at == RECENT - timedelta(seconds=60), "older than its first event"
    assert (session.exit_page, session.last_event_at) == (
        "/pricing",
        RECENT + timedelta(seconds=60),
    )
    assert len(sessions_of(acme)) == 1


def test_a_resent_event_counts_once_in_its_session(client, acme):
    """An SDK's retry resends a whole batch, a batch repeats an event id with other content:
    the session folds each event once, as its first occurrence was stored."""
    seed_events(client, acme)
    fold(acme, "sess_001")
    folded = facts(acme)
    assert seed_events(client, acme).json()["duplicates"] == 3
    again = event(event_id="2", page__path="/elsewhere", event__timestamp=at(600))
    assert post(client, acme.ingest_key, {"events": [again, again]}).json()["duplicates"] == 2
    fold(acme, "sess_001")
    assert facts(acme) == folded
    session = sessions_of(acme)["sess_001"]
    assert (session.event_count, session.exit_page, session.duration_ms) == (3, "/pricing", 60_000)


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


def _close_idle(tenant, now: datetime) -> int:
    with transaction.atomic(), org_context(tenant.org.pk):
        return services.sessions_close_idle(org_id=tenant.org.pk, now=now)


def _visit_at(client, tenant, session_id: str, moment: datetime, name: str) -> None:
    item = event(event_id=name, session__id=session_id, event__timestamp=moment.isoformat())
    assert post(client, tenant.ingest_key, {"events": [item]}).json()["accepted"] == 1


def test_idle_sessions_close_after_their_projects_timeout_as_a_refold_ends_them(client, acme):
    """Closing ends exactly the sessions idle longer than their own project's timeout (30
    minutes by default, 60 for `slow` here), at their last event; a second close changes
    nothing, and each row is the one a fold at that instant computes."""
    with transaction.atomic():
        slow, _ = org_services.project_create(org=acme.org, name="Slow", public_id="proj_slow")
        slow_key = org_services.api_key_issue(project=slow, kind="ingest", name="t").key
        with org_context(acme.org.pk):
            Project.objects.filter(pk=slow.pk).update(session_timeout_minutes=60)
    acme_slow = replace(acme, project=slow, ingest_key=slow_key)
    start = RECENT - timedelta(hours=1)
    _visit_at(client, acme, "quick", start, "q1")
    _visit_at(client, acme_slow, "slow", start, "s1")
    _visit_at(client, acme, "fresh", start + timedelta(minutes=20), "f1")
    fold(acme, "quick", "fresh", now=start + timedelta(minutes=21))
    fold(acme_slow, "slow", now=start + timedelta(minutes=21))
    assert all(session.is_active for session in sessions_of(acme).values())

    assert _close_idle(acme, start + timedelta(minutes=31)) == 1
    closed = sessions_of(acme)
    assert closed["quick"].ended_at == closed["quick"].last_event_at == start
    assert closed["slow"].is_active, "31 minutes idle, within its project's 60"
    assert closed["fresh"].is_active, "11 minutes idle"
    assert _close_idle(acme, start + timedelta(minutes=31)) == 0, "nothing more to close"
    after_close = facts(acme)
    fold(acme, "quick", "fresh", now=start + timedelta(minutes=31))
    fold(acme_slow, "slow", now=start + timedelta(minutes=31))
    assert facts(acme) == after_close, "the close and a fold agree on every row"

    assert _close_idle(acme, start + timedelta(minutes=61)) == 2
    assert not any(session.is_active for session in sessions_of(acme).values())
    assert sessions_of(acme)["fresh"].ended_at == start + timedelta(minutes=20)


def test_a_closed_session_that_gets_a_new_event_is_active_again(client, acme):
    """After idle close, a later event of the same session refolds it as a rebuild would:
    active again, up to its new last event; it closes again once idle."""
    start = RECENT - timedelta(hours=1)
    _visit_at(client, acme, "s", start, "e1")
    fold(acme, "s", now=start + timedelta(minutes=1))
    assert _close_idle(acme, start + timedelta(minutes=31)) == 1
    assert not sessions_of(acme)["s"].is_active
    _visit_at(client, acme, "s", start + timedelta(minutes=40), "e2")
    fold(acme, "s", now=start + timedelta(minutes=41))
    session = sessions_of(acme)["s"]
    assert session.is_active and session.ended_at is None
    assert (session.event_count, session.duration_ms) == (2, 40 * 60_000)
    assert _close_idle(acme, start + timedelta(minutes=71)) == 1
    assert sessions_of(acme)["s"].ended_at == start + timedelta(minutes=40)


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
