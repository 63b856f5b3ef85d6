"""The write path's transaction (ingestion/services.py, events_ingest): nothing half-stored
when it fails, and the touched (project, session) pairs handed to sessions only after commit."""

from __future__ import annotations

from django.test import Client

from sessions.fold_queue import redis_client, touched_keys
from tests.conftest import make_tenant
from tests.ingestion.helpers import event, post, stored


def test_committed_events_mark_their_sessions_once(committed):
    acme = make_tenant("acme")
    redis = redis_client()
    keys = touched_keys(acme.org.pk, acme.project.pk)
    redis.delete(*keys)
    batch = {
        "events": [event(event_id="1", session__id="s1"), event(event_id="2", session__id="s2")]
    }
    post(Client(), acme.ingest_key, batch)
    post(Client(), acme.ingest_key, {"events": [event(event_id="1", session__id="s1")]})
    assert {member.decode() for member in redis.sunion(keys)} == {"s1", "s2"}
    redis.delete(*keys)


def test_a_rolled_back_request_marks_nothing(committed, monkeypatch):
    from ingestion import door

    acme = make_tenant("acme")
    redis = redis_client()
    keys = touched_keys(acme.org.pk, acme.project.pk)
    redis.delete(*keys)

    def crash_after_ingest(*args, **kwargs):
        raise RuntimeError("crash after the write was queued, before the commit")

    monkeypatch.setattr(door.logger, "info", crash_after_ingest)
    response = post(Client(raise_request_exception=False), acme.ingest_key, {"events": [event()]})
    assert response.status_code == 500
    assert not redis.sunion(keys)


def test_a_failure_while_storing_leaves_nothing_half_stored(client, committed, monkeypatch):
    from ingestion import services
    from tests.conftest import make_tenant

    acme = make_tenant("acme")

    def fail_after_write(**kwargs):
        original(**kwargs)
        raise RuntimeError("crash after the insert, before the commit")

    original = services.events_write
    monkeypatch.setattr(services, "events_write", fail_after_write)
    from django.test import Client

    response = post(
        Client(raise_request_exception=False),
        acme.ingest_key,
        {"events": [event(event_id=f"e{i}") for i in range(10)]},
    )
    assert response.status_code == 500
    assert stored(acme.org.pk) == []
    monkeypatch.undo()
    retry = post(client, acme.ingest_key, {"events": [event(event_id=f"e{i}") for i in range(10)]})
    assert retry.json()["duplicates"] == 0, "the retry stores them: nothing was kept before"
    assert len(stored(acme.org.pk)) == 10
