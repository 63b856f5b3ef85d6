"""The Segment-spec door's endpoints (ingestion/segment/views.py; segment.md): call
types and their paths, answers in both shapes, the key's places, the rate limit."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from django.db import transaction

from ingestion import ratelimit
from orgs import selectors
from orgs.models import Project
from productgraph.tenancy.context import org_context
from tests.ingestion.helpers import stored
from tests.ingestion.segment.helpers import (
    DAY,
    TIMESTAMP,
    assert_error,
    basic,
    batch,
    message,
    send,
)


@pytest.mark.parametrize(
    ("call", "fields", "event_type", "event_name", "attributes"),
    [
        ("track", {"event": "Signed Up", "properties": {"plan": "pro"}}, "custom", "Signed Up",
         {"plan": "pro"}),
        ("page", {"name": "Home", "category": "Docs", "properties": {"path": "/"}}, "page.view",
         "Home", {"path": "/", "category": "Docs"}),
        ("screen", {"name": "Settings", "properties": {"tab": "privacy"}}, "page.view",
         "Settings", {"tab": "privacy"}),
        ("identify", {"traits": {"email": "ada@acme.test"}}, "custom", "identify",
         {"email": "ada@acme.test"}),
        ("group", {"groupId": 42, "traits": {"name": "Acme Inc"}}, "custom", "group",
         {"groupId": "42", "name": "Acme Inc"}),
        ("alias", {"previousId": "anon-1"}, "custom", "alias", {"previousId": "anon-1"}),
    ],
)  # fmt: skip
def test_each_call_type_has_its_endpoint_and_its_event(
    client, acme, call, fields, event_type, event_name, attributes
):
    body = {
        "userId": "user-7",
        "messageId": f"{call}-1",
        "timestamp": TIMESTAMP,
        "writeKey": acme.ingest_key,
        **fields,
    }
    response = send(client, f"/v1/{call}", body)  # the key in the body, as beacons send it
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    [row] = stored(acme.org.pk)
    assert (row.event_id, row.event_type, row.event_name, row.user_id) == (
        f"{call}-1",
        event_type,
        event_name,
        "user-7",
    )
    assert row.attributes == attributes
    assert row.metadata == {"segment": call, "context": {}}
    assert row.session_id == f"seg-{DAY}:u:user-7"


def test_the_endpoint_names_the_call_type_whatever_the_body_says(client, acme):
    body = message(type="identify", name="Home")
    response = send(client, "/v1/page", body, key=acme.ingest_key)
    assert response.status_code == 200, response.content
    [row] = stored(acme.org.pk)
    assert (row.event_type, row.event_name, row.metadata["segment"]) == (
        "page.view",
        "Home",
        "page",
    )


def test_a_resend_with_the_same_message_id_is_a_duplicate(client, acme):
    first = send(client, "/v1/batch", batch(message()), key=acme.ingest_key)
    again = send(client, "/v1/track", {**message(), "sentAt": "later"}, key=acme.ingest_key)
    assert first.json()["duplicates"] == 0
    assert (again.json()["accepted"], again.json()["duplicates"]) == (1, 1)
    assert len(stored(acme.org.pk)) == 1


def test_a_gzipped_batch_is_accepted(client, acme):
    data = gzip.compress(json.dumps(batch(message())).encode())
    response = send(client, "/v1/batch", data, key=acme.ingest_key, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200, response.content
    assert len(stored(acme.org.pk)) == 1


def test_a_batch_of_1000_messages_is_stored(client, acme):
    messages = [message(messageId=f"m{i}") for i in range(1000)]
    response = send(client, "/v1/batch", batch(*messages), key=acme.ingest_key)
    assert response.status_code == 200
    assert response.json()["accepted"] == 1000
    assert len(stored(acme.org.pk)) == 1000


def test_another_content_type_is_415(client, acme):
    response = send(client, "/v1/batch", batch(message()), key=acme.ingest_key,
                    content_type="application/xml")  # fmt: skip
    assert_error(response, 415, "unsupported_media_type")


def test_a_corrupt_gzip_body_is_400(client, acme):
    response = send(client, "/v1/batch", b"not gzip", key=acme.ingest_key,
                    HTTP_CONTENT_ENCODING="gzip")  # fmt: skip
    assert_error(response, 400, "invalid_json")


def test_another_method_is_405_in_both_shapes(client, acme):
    response = client.get("/v1/batch", HTTP_AUTHORIZATION=basic(acme.ingest_key))
    assert_error(response, 405, "method_not_allowed")


def test_no_key_anywhere_is_401(client, acme):
    assert_error(send(client, "/v1/batch", batch(message())), 401, "missing_api_key")


def test_an_unknown_write_key_is_401(client, acme):
    assert_error(send(client, "/v1/batch", batch(message()), key="pk_" + "x" * 40), 401,
                 "invalid_api_key")  # fmt: skip


@pytest.mark.parametrize("place", ["header", "body"])
def test_the_key_may_be_the_basic_user_our_header_or_the_write_key(client, acme, place):
    if place == "header":
        response = send(client, "/v1/batch", batch(message()), HTTP_X_PG_API_KEY=acme.ingest_key)
    else:
        response = send(client, "/v1/batch", batch(message(), writeKey=acme.ingest_key))
    assert response.status_code == 200, response.content
    assert len(stored(acme.org.pk)) == 1


def test_the_same_key_as_basic_user_and_write_key_is_one_key(client, acme):
    payload = batch(message(), writeKey=acme.ingest_key)  # what analytics-python sends
    assert send(client, "/v1/batch", payload, key=acme.ingest_key).status_code == 200


def test_a_secret_key_as_the_write_key_is_refused(client, acme):
    response = send(client, "/v1/batch", batch(message(), writeKey=acme.secret_key))
    assert_error(response, 401, "wrong_key_kind")
    assert stored(acme.org.pk) == []


def test_over_the_rate_limit_is_429_with_retry_after_and_nothing_stored(client, acme):
    with transaction.atomic(), org_context(acme.org.pk):
        Project.objects.filter(pk=acme.project.pk).update(rate_limit_per_second=10)
    selectors._project_cache.clear()  # not a cached project of an earlier test with this pk
    ratelimit._redis().delete(ratelimit.bucket_key(acme.project.pk))
    first = [message(messageId=f"a{i}") for i in range(20)]
    assert send(client, "/v1/batch", batch(*first), key=acme.ingest_key).status_code == 200
    second = [message(messageId=f"b{i}") for i in range(5)]
    response = send(client, "/v1/batch", batch(*second), key=acme.ingest_key)
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    assert len(stored(acme.org.pk)) == 20


def analytics_js_track(key: str) -> dict[str, Any]:
    """What analytics.js (analytics-next) posts to `/v1/t` for `analytics.track(...)`."""
    return {
        "timestamp": TIMESTAMP,
        "integrations": {},
        "type": "track",
        "properties": {"plan": "pro"},
        "event": "Signed Up",
        "messageId": "ajs-next-1733600000000-6fc9294c",
        "anonymousId": "a4b56be3-0000-4000-8000-000000000002",
        "context": {
            "page": {"path": "/pricing", "referrer": "", "search": "", "title": "Pricing",
                     "url": "https://shop.example/pricing"},
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0",
            "locale": "en-US",
            "library": {"name": "analytics.js", "version": "next-1.70.0"},
        },
        "writeKey": key,
        "sentAt": TIMESTAMP,
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
    }  # fmt: skip


def test_analytics_js_short_paths_and_text_plain_body_with_its_write_key(client, acme):
    origin = "https://shop.example"
    with transaction.atomic(), org_context(acme.org.pk):
        Project.objects.filter(pk=acme.project.pk).update(allowed_origins=[origin])
    selectors._project_cache.clear()
    track = analytics_js_track(acme.ingest_key)
    response = send(client, "/v1/t", track, content_type="text/plain", HTTP_ORIGIN=origin)
    assert response.status_code == 200, response.content
    assert response["Access-Control-Allow-Origin"] == origin
    page = {**track, "type": "page", "messageId": "ajs-next-2", "name": "Pricing"}
    del page["event"]
    batched = {"batch": [page], "writeKey": acme.ingest_key, "sentAt": TIMESTAMP}
    assert send(client, "/v1/b", batched, content_type="text/plain").status_code == 200
    rows = {row.event_id: row for row in stored(acme.org.pk)}
    assert (rows[track["messageId"]].event_type, rows[track["messageId"]].event_name) == (
        "custom",
        "Signed Up",
    )
    assert rows["ajs-next-2"].event_type == "page.view"
    assert rows["ajs-next-2"].page_path == "/pricing"
    assert rows[track["messageId"]].user_agent == track["context"]["userAgent"]


def test_a_write_key_with_a_bad_batch_gets_the_batchs_error_not_a_401(client, acme):
    response = send(client, "/v1/batch", {"writeKey": acme.ingest_key, "batch": {"a": 1}})
    assert_error(response, 400, "invalid_body")


def test_a_secret_write_key_is_refused_even_beside_itself_as_the_basic_user(client, acme):
    body = {**message(), "writeKey": acme.secret_key}
    response = send(client, "/v1/track", body, key=acme.secret_key)
    assert_error(response, 401, "wrong_key_kind")
    assert stored(acme.org.pk) == []
