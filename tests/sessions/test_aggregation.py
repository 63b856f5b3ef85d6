"""Aggregation against real PostgreSQL and Redis: fold, idempotency, isolation, closing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections, transaction
from django.test import Client

from orgs.models import Project
from productgraph.tenancy.context import org_context
from sessions import fold_queue, services, tasks
from sessions.models import Session
from tests.conftest import make_tenant
from tests.ingestion.helpers import RECENT, event, post

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def sessions_of(tenant) -> dict[str, Session]:
    with transaction.atomic(), org_context(tenant.org.pk):
        return {s.session_id: s for s in Session.objects.filter(org_id=tenant.org.pk)}


def fold(tenant, *session_ids: str) -> int:
    with transaction.atomic(), org_context(tenant.org.pk):
        return services.sessions_fold(
            org_id=tenant.org.pk, project_id=tenant.project.pk, session_ids=list(session_ids)
        )


def at(seconds: int) -> str:
    """A time `seconds` after RECENT (over an hour ago: its sessions are idle, ended)."""
    return (RECENT + timedelta(seconds=seconds)).isoformat()


def seed_events(client, tenant, **extra):
    batch = [
        event(event_id="1", page__path="/home", event__timestamp=at(0)),
        event(event_id="2", page__path="/pricing", event__timestamp=at(30)),
        event(event_id="3", event__type="error", event__timestamp=at(60)),
    ]
    return post(client, tenant.ingest_key, {"events": batch}, HTTP_USER_AGENT=CHROME, **extra)


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


def test_tasks_for_acme_never_read_or_write_globex(client, acme, globex):
    seed_events(client, acme)
    seed_events(client, globex)
    with pytest.raises(Project.DoesNotExist), transaction.atomic(), org_context(acme.org.pk):
        # A forged task naming globex's project inside acme's context finds no project.
        services.sessions_fold(
            org_id=acme.org.pk, project_id=globex.project.pk, session_ids=["sess_001"]
        )
    assert tasks.sweep_org.run(acme.org.pk, "2000-01-01T00:00:00+00:00") == 1
    assert set(sessions_of(acme)) == {"sess_001"}
    assert sessions_of(globex) == {}


def test_the_sweep_refolds_only_stale_sessions(client, acme):
    seed_events(client, acme)
    since = "2000-01-01T00:00:00+00:00"
    assert tasks.sweep_org.run(acme.org.pk, since) == 1
    assert tasks.sweep_org.run(acme.org.pk, since) == 0, "nothing new: nothing refolded"


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


def test_marks_are_taken_atomically_and_put_back_on_failure(acme):
    where = {"org_id": acme.org.pk, "project_id": acme.project.pk}
    shard = fold_queue.session_shard("a")
    same_shard = [s for s in (f"s{n}" for n in range(100)) if fold_queue.session_shard(s) == shard]
    key = fold_queue.touched_key(acme.org.pk, acme.project.pk, shard)
    client = fold_queue.redis_client()
    client.delete(*fold_queue.touched_keys(**where))
    client.sadd(key, "a", *same_shard[:2])
    taken = fold_queue.sessions_take_touched(**where, shard=shard, limit=2)
    assert len(taken) == 2 and client.scard(key) == 1
    fold_queue.sessions_remark(**where, session_ids=taken)
    assert client.scard(key) == 3 and fold_queue.sessions_pending(**where) == 3
    client.delete(key)


def test_marks_spread_over_shards_and_each_shard_schedules_one_fold(acme, monkeypatch):
    where = {"org_id": acme.org.pk, "project_id": acme.project.pk}
    client = fold_queue.redis_client()
    client.delete(*fold_queue.touched_keys(**where))
    client.delete(
        *(fold_queue._scheduled_key(**where, shard=s) for s in range(fold_queue.FOLD_SHARDS))
    )
    sent: list[tuple] = []
    monkeypatch.setattr(fold_queue, "_send_fold", lambda *args: sent.append(args))
    ids = [f"sess_{n}" for n in range(40)]
    fold_queue.sessions_mark_touched(**where, session_ids=ids)
    fold_queue.sessions_mark_touched(**where, session_ids=ids[:5])  # already scheduled
    shards = {fold_queue.session_shard(s) for s in ids}
    assert len(shards) == fold_queue.FOLD_SHARDS > 1
    assert sorted(args[2] for args in sent) == sorted(shards)
    for shard in shards:
        members = {
            m.decode() for m in client.smembers(fold_queue.touched_key(**where, shard=shard))
        }
        assert members == {s for s in ids if fold_queue.session_shard(s) == shard}
    client.delete(*fold_queue.touched_keys(**where))
    client.delete(
        *(fold_queue._scheduled_key(**where, shard=s) for s in range(fold_queue.FOLD_SHARDS))
    )


def test_a_redelivered_fold_gets_the_marks_its_first_delivery_took(acme):
    where = {"org_id": acme.org.pk, "project_id": acme.project.pk}
    shard = fold_queue.session_shard("a")
    same_shard = [s for s in (f"s{n}" for n in range(200)) if fold_queue.session_shard(s) == shard]
    key = fold_queue.touched_key(**where, shard=shard)
    client = fold_queue.redis_client()
    client.delete(key)
    client.sadd(key, *same_shard[:3])
    first = fold_queue.sessions_take_touched(**where, shard=shard, limit=500, task_id="t-1")
    assert sorted(first) == sorted(same_shard[:3]) and client.scard(key) == 0
    client.sadd(key, same_shard[3])  # a mark made while the worker died
    again = fold_queue.sessions_take_touched(**where, shard=shard, limit=500, task_id="t-1")
    assert sorted(again) == sorted(first)  # the redelivery folds what the first one held
    fold_queue.sessions_release_held(**where, shard=shard, task_id="t-1")
    later = fold_queue.sessions_take_touched(**where, shard=shard, limit=500, task_id="t-2")
    assert later == [same_shard[3]]
    fold_queue.sessions_release_held(**where, shard=shard, task_id="t-2")
    assert not client.keys(fold_queue.redis_key("sessions", "held", "*"))
    client.delete(key)


def test_a_redis_outage_logs_one_warning_not_one_per_request(acme, monkeypatch, caplog):
    class Down:
        def pipeline(self, **kwargs):
            raise ConnectionError("Redis is down")

    monkeypatch.setattr(fold_queue, "redis_client", lambda: Down())
    monkeypatch.setattr(fold_queue, "_last_warning", 0.0)
    for _ in range(50):
        fold_queue.sessions_mark_touched(
            org_id=acme.org.pk, project_id=acme.project.pk, session_ids=["s1"]
        )
    warnings = [r for r in caplog.records if "could not mark touched sessions" in r.message]
    assert len(warnings) == 1


def test_the_broker_redelivers_a_dead_workers_task_after_15_minutes():
    from productgraph.celery import app

    assert app.conf.broker_transport_options["visibility_timeout"] == 900
    assert app.conf.task_time_limit < 900
