"""The fold's work queue in Redis (sessions/fold_queue.py): marks by shard, atomic takes,
holds for redelivered tasks, put-backs, and an outage that never fails a request."""

from __future__ import annotations

from sessions import fold_queue


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
