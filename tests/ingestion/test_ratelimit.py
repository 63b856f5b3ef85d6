"""The per-project rate limit (ingestion/ratelimit.py): 429 with nothing stored, and
open when Redis is down."""

from __future__ import annotations

from django.db import transaction

from ingestion import ratelimit
from orgs.models import Project
from productgraph.tenancy.context import org_context
from tests.ingestion.helpers import event, post, stored


def test_over_the_rate_limit_is_429_with_retry_after_and_nothing_stored(client, acme):
    with transaction.atomic(), org_context(acme.org.pk):
        Project.objects.filter(pk=acme.project.pk).update(rate_limit_per_second=10)
    ratelimit._redis().delete(ratelimit.bucket_key(acme.project.pk))
    first = post(client, acme.ingest_key, {"events": [event(event_id=f"a{i}") for i in range(20)]})
    assert first.status_code == 202, "a full bucket holds 2 x the rate"
    second = post(client, acme.ingest_key, {"events": [event(event_id=f"b{i}") for i in range(5)]})
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "rate_limited"
    assert int(second["Retry-After"]) >= 1
    assert len(stored(acme.org.pk)) == 20


def test_rate_limit_fails_open_when_redis_is_down(client, acme, settings, tmp_path, monkeypatch):
    settings.REDIS_URL = f"unix://{tmp_path}/nothing.sock"
    # Both go back to the real pair afterwards: a script left bound to the unreachable
    # client would make every later rate-limit test fail open.
    monkeypatch.setattr(ratelimit, "_client", None)
    monkeypatch.setattr(ratelimit, "_script", None)
    response = post(client, acme.ingest_key, {"events": [event()]})
    assert response.status_code == 202
