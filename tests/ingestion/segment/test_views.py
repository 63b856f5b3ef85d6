"""The Segment-spec door (segment.md): every call type, the mapping field by field, each
rejection, deduplication by messageId, the key's places, and two tenants."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction

from ingestion import ratelimit
from ingestion.segment.mapping import derived_session_id, messages_map
from orgs import selectors
from orgs.models import Project
from productgraph.tenancy.context import org_context
from tests.ingestion.helpers import RECENT, stored

TIMESTAMP = RECENT.isoformat(timespec="milliseconds")  # as analytics-python sends it
DAY = TIMESTAMP[:10]


def basic(key: str) -> str:
    """Segment's way: the write key as the HTTP Basic user, no password."""
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def send(client, path: str, payload: Any, *, key: str | None = None, **headers: Any):
    """POST like a Segment client: JSON, the key as the Basic user (unless `key` is None)."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if key is not None:
        headers.setdefault("HTTP_AUTHORIZATION", basic(key))
    headers.setdefault("content_type", "application/json")
    return client.post(path, data=data, **headers)


def message(**fields: Any) -> dict[str, Any]:
    """A track message as analytics-python sends it; keyword arguments override."""
    base: dict[str, Any] = {
        "type": "track",
        "event": "Order Completed",
        "messageId": "msg-1",
        "anonymousId": "anon-1",
        "timestamp": TIMESTAMP,
        "properties": {"revenue": 12.5, "currency": "EUR"},
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
        "integrations": {},
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def batch(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"batch": list(messages), "sentAt": TIMESTAMP, **extra}


def test_a_track_message_is_stored_field_for_field(client, acme):
    context = {
        "library": {"name": "analytics.js", "version": "5.0.0"},
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "page": {
            "path": "/pricing",
            "url": "https://acme.test/pricing?plan=pro",
            "title": "Pricing",
            "referrer": "https://search.test/",
            "search": "?plan=pro",
        },
        "screen": {"width": 1440, "height": 900},
        "locale": "en-GB",
    }
    msg = message(userId="user-7", context=context, channel="browser")
    response = send(client, "/v1/batch", batch(msg), key=acme.ingest_key)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "success": True,
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
        "ignored": 0,
        "errors": [],
    }
    [row] = stored(acme.org.pk)
    assert (row.event_id, row.event_type, row.event_name) == (
        "msg-1",
        "custom",
        "Order Completed",
    )
    assert (row.user_id, row.anonymous_id) == ("user-7", "anon-1")
    assert row.session_id == f"seg-{DAY}:a:anon-1"
    assert row.timestamp == RECENT
    assert (row.page_path, row.page_url, row.page_title, row.page_referrer) == (
        "/pricing",
        "https://acme.test/pricing?plan=pro",
        "Pricing",
        "https://search.test/",
    )
    assert row.ui_viewport == "1440x900"
    assert row.attributes == {"revenue": 12.5, "currency": "EUR"}
    # The context without what became columns (page fields, screen size, user agent).
    rest = {"library": context["library"], "page": {"search": "?plan=pro"}, "locale": "en-GB"}
    assert row.metadata == {"segment": "track", "context": rest, "channel": "browser"}
    assert row.user_agent == context["userAgent"]
    assert row.project_id == acme.project.pk


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


def test_a_page_call_takes_its_properties_over_its_context_page(client, acme):
    msg = message(
        type="page",
        name="Pricing",
        properties={"path": "/pricing", "title": 7},  # a title that is not a string stays
        context={"page": {"path": "/old", "title": "Old", "url": "https://acme.test/old"}},
    )
    assert send(client, "/v1/batch", batch(msg), key=acme.ingest_key).status_code == 200
    [row] = stored(acme.org.pk)
    assert (row.page_path, row.page_title, row.page_url) == (
        "/pricing",
        "Old",
        "https://acme.test/old",
    )
    assert row.attributes == {"path": "/pricing", "title": 7}


def test_a_call_type_we_do_not_store_is_accepted_and_counted_not_dropped(client, acme):
    messages = [message(messageId="a"), message(type="experiment", messageId="b")]
    response = send(client, "/v1/batch", batch(*messages), key=acme.ingest_key)
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
        "ignored": 1,
        "errors": [],
    }
    assert [row.event_id for row in stored(acme.org.pk)] == ["a"]


def test_a_message_without_user_id_or_anonymous_id_is_its_own_error(client, acme):
    messages = [
        message(messageId="a"),
        message(messageId="b", anonymousId=None),
        message(messageId="c", anonymousId="", userId=""),
        message(messageId="d", anonymousId=None, userId=0),  # a number is an id (as "0")
    ]
    response = send(client, "/v1/batch", batch(*messages), key=acme.ingest_key)
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert body["errors"] == [
        {
            "index": index,
            "field": "anonymousId",
            "code": "required",
            "message": "a message needs a userId or an anonymousId",
        }
        for index in (1, 2)
    ]
    assert sorted((row.event_id, row.user_id) for row in stored(acme.org.pk)) == [
        ("a", None),
        ("d", "0"),
    ]


def test_each_malformed_message_is_its_own_error_and_the_rest_is_stored(client, acme):
    messages = [
        5,
        message(messageId="x" * 129),
        message(type=None, messageId="t"),
        message(event=None, messageId="e"),
        message(properties=[1], messageId="p"),
        message(context="web", messageId="c"),
        message(timestamp="yesterday", messageId="ts"),
        message(messageId="ok"),
    ]
    response = send(client, "/v1/batch", batch(*messages), key=acme.ingest_key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 7)
    assert [(error["index"], error["field"], error["code"]) for error in body["errors"]] == [
        (0, None, "invalid"),
        (1, "messageId", "invalid"),
        (2, "type", "required"),
        (3, "event", "required"),
        (4, "properties", "invalid"),
        (5, "context", "invalid"),
        (6, "timestamp", "invalid"),
    ]
    assert [row.event_id for row in stored(acme.org.pk)] == ["ok"]


def test_a_number_out_of_range_is_that_messages_error(client, acme):
    raw = json.dumps(batch(message(messageId="ok"))).encode()
    raw = raw.replace(b'"batch": [', b'"batch": [{"type": "track", "n": 1e400}, ')
    response = send(client, "/v1/batch", raw, key=acme.ingest_key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"], body["errors"][0]["index"]) == (1, 1, 0)
    assert [row.event_id for row in stored(acme.org.pk)] == ["ok"]


def test_a_resend_with_the_same_message_id_is_a_duplicate(client, acme):
    first = send(client, "/v1/batch", batch(message()), key=acme.ingest_key)
    again = send(client, "/v1/track", {**message(), "sentAt": "later"}, key=acme.ingest_key)
    assert first.json()["duplicates"] == 0
    assert (again.json()["accepted"], again.json()["duplicates"]) == (1, 1)
    assert len(stored(acme.org.pk)) == 1


def test_a_message_without_message_id_gets_a_stable_id_of_its_content(client, acme):
    msg = message(messageId=None)
    first = send(
        client, "/v1/batch", batch(msg, sentAt="2026-01-01T00:00:00Z"), key=acme.ingest_key
    )
    again = send(
        client, "/v1/batch", batch(msg, sentAt="2026-01-01T00:00:09Z"), key=acme.ingest_key
    )
    other = send(client, "/v1/batch", batch({**msg, "event": "Other"}), key=acme.ingest_key)
    assert [r.json()["duplicates"] for r in (first, again, other)] == [0, 1, 0]
    rows = stored(acme.org.pk)
    assert len(rows) == 2 and all(row.event_id.startswith("seg-") for row in rows)


def test_original_timestamp_is_corrected_by_the_clients_clock_skew(client, acme):
    # The client's clock is 1 h fast: it sent 5 s after the event, by its own clock.
    original = RECENT + timedelta(hours=1)
    msg = message(timestamp=None, originalTimestamp=original.isoformat())
    sent_at = (original + timedelta(seconds=5)).isoformat()
    before = datetime.now(UTC)
    response = send(client, "/v1/batch", batch(msg, sentAt=sent_at), key=acme.ingest_key)
    after = datetime.now(UTC)
    assert response.status_code == 200, response.content
    [row] = stored(acme.org.pk)
    assert before - timedelta(seconds=5) <= row.timestamp <= after - timedelta(seconds=5)


def test_a_clock_skew_beyond_the_calendar_leaves_the_time_to_validation(client, acme):
    """Found by schemathesis: sentAt in 7104 minus originalTimestamp in 2637 was a 500."""
    msg = message(timestamp=None, originalTimestamp="2637-01-03T14:40:56-10:12")
    response = send(client, "/v1/batch", batch(msg, sentAt="7104-05-04T11:01:46.3Z"),
                    key=acme.ingest_key)  # fmt: skip
    assert response.status_code == 200, response.content
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("timestamp", "invalid")
    assert stored(acme.org.pk) == []


def test_a_message_without_any_time_takes_the_receive_time(client, acme):
    before = datetime.now(UTC)
    send(client, "/v1/batch", batch(message(timestamp=None)), key=acme.ingest_key)
    [row] = stored(acme.org.pk)
    assert before <= row.timestamp <= datetime.now(UTC)
    assert row.timestamp == row.received_at


@pytest.mark.parametrize(
    ("fields", "session"),
    [
        ({"context": {"sessionId": 1700000000123}}, "1700000000123"),
        ({"properties": {"session_id": "s-9"}}, "s-9"),
        ({"integrations": {"Actions Amplitude": {"session_id": 17}}}, "17"),
        ({}, f"seg-{DAY}:a:anon-1"),
        ({"anonymousId": None, "userId": "u"}, f"seg-{DAY}:u:u"),
    ],
)
def test_the_session_is_the_one_sent_or_one_per_person_and_day(client, acme, fields, session):
    send(client, "/v1/batch", batch(message(**fields)), key=acme.ingest_key)
    [row] = stored(acme.org.pk)
    assert row.session_id == session


def test_a_derived_session_id_stays_within_255_characters():
    session = derived_session_id(anonymous_id="a" * 300, user_id=None, day="2026-01-02")
    assert len(session) <= 255 and session.startswith("seg-2026-01-02:")
    assert session == derived_session_id(anonymous_id="a" * 300, user_id=None, day="2026-01-02")


def test_properties_named_like_our_fields_stay_attributes(client, acme):
    properties = {"event_id": "x", "project_id": "proj_other", "page.path": "/p", "plan": "pro"}
    send(client, "/v1/batch", batch(message(properties=properties)), key=acme.ingest_key)
    [row] = stored(acme.org.pk)
    assert row.event_id == "msg-1" and row.page_path is None
    assert row.attributes == {
        "properties.event_id": "x",
        "properties.project_id": "proj_other",
        "properties.page.path": "/p",
        "plan": "pro",
    }


def test_the_batch_context_applies_to_messages_without_their_own(client, acme):
    shared = {"userAgent": "Shared/1.0", "page": {"path": "/shared"}}
    messages = [message(messageId="a", context=None), message(messageId="b")]
    send(client, "/v1/batch", batch(*messages, context=shared), key=acme.ingest_key)
    rows = {row.event_id: row for row in stored(acme.org.pk)}
    assert (rows["a"].page_path, rows["a"].user_agent) == ("/shared", "Shared/1.0")
    assert rows["b"].page_path is None


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


def assert_error(response, status: int, code: str) -> None:
    """Our envelope, and Segment's top-level code and message its clients read."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert (body["code"], body["message"]) == (code, body["error"]["message"])


@pytest.mark.parametrize(
    ("path", "data", "code"),
    [
        ("/v1/batch", b'{"batch": [', "invalid_json"),
        ("/v1/track", b"<xml/>", "invalid_json"),
        ("/v1/batch", b'"a string"', "invalid_body"),
        ("/v1/track", b"[1, 2]", "invalid_body"),
        ("/v1/batch", b'{"messages": []}', "invalid_body"),
        ("/v1/batch", b'{"batch": {"type": "track"}}', "invalid_body"),
    ],
)
def test_a_body_that_is_not_what_its_content_type_says_is_a_400(client, acme, path, data, code):
    assert_error(send(client, path, data, key=acme.ingest_key), 400, code)
    assert stored(acme.org.pk) == []


def test_1001_messages_are_a_400_and_nothing_is_stored(client, acme):
    messages = [message(messageId=f"m{i}") for i in range(1001)]
    response = send(client, "/v1/batch", batch(*messages), key=acme.ingest_key)
    assert_error(response, 400, "batch_too_large")
    assert "1001" in response.json()["message"]
    assert stored(acme.org.pk) == []


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


def test_globex_write_key_with_acme_basic_user_is_a_400_and_nothing_stored(client, acme, globex):
    payload = batch(message(), writeKey=globex.ingest_key)
    assert_error(send(client, "/v1/batch", payload, key=acme.ingest_key), 400,
                 "conflicting_api_keys")  # fmt: skip
    assert stored(acme.org.pk) == [] and stored(globex.org.pk) == []


def test_globex_key_never_writes_into_acme(client, acme, globex):
    msg = message(properties={"project_id": "proj_acme"})
    response = send(client, "/v1/batch", batch(msg), key=globex.ingest_key)
    assert response.status_code == 200, response.content
    assert stored(acme.org.pk) == []
    [row] = stored(globex.org.pk)
    assert row.project_id == globex.project.pk
    # The same messageId in acme is acme's own event, not a duplicate of globex's.
    response = send(client, "/v1/batch", batch(msg), key=acme.ingest_key)
    assert response.json()["duplicates"] == 0
    assert [row.project_id for row in stored(acme.org.pk)] == [acme.project.pk]


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


def test_mapping_a_batch_keeps_message_indexes_and_user_agents():
    now = datetime.now(UTC)
    messages = [
        {"type": "nope", "userId": "u"},
        message(messageId="a", context={"userAgent": "UA/1"}),
        message(anonymousId=None),
        message(messageId="b"),
    ]
    mapped = messages_map(messages, call_type=None, received_at=now)
    assert [event["event_id"] for event in mapped.events] == ["a", "b"]
    assert mapped.positions == [1, 3]
    assert mapped.user_agents == {0: "UA/1"}
    assert [error["index"] for error in mapped.errors] == [2]
    assert mapped.ignored == 1


def test_an_identify_without_traits_takes_its_context_traits(client, acme):
    body = {"userId": "user-7", "timestamp": TIMESTAMP, "context": {"traits": {"plan": "pro"}}}
    send(client, "/v1/identify", body, key=acme.ingest_key)
    [row] = stored(acme.org.pk)
    assert row.attributes == {"plan": "pro"}


def test_the_openapi_document_lists_every_door_path_with_its_body(client):
    document = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = document["paths"]
    for path in ("/v1/events", "/v1/logs", "/v1/traces", "/v1/batch", "/v1/b",
                 *(f"/v1/{call}" for call in ("track", "page", "screen", "identify", "alias",
                                              "group", "t", "p", "i", "a", "g"))):  # fmt: skip
        assert "post" in paths[path], path
    batch = paths["/v1/batch"]["post"]["requestBody"]
    assert batch["required"] and set(batch["content"]) == {"application/json", "text/plain"}
    assert "batch" in batch["content"]["application/json"]["schema"]["properties"]
    track = paths["/v1/track"]["post"]["requestBody"]["content"]["text/plain"]["schema"]
    assert "messageId" in track["properties"]
    assert {"200", "400", "401", "413", "415", "429"} <= set(
        paths["/v1/track"]["post"]["responses"]
    )
    logs = paths["/v1/logs"]["post"]["requestBody"]["content"]
    assert set(logs) == {"application/x-protobuf", "application/json"}
    assert logs["application/x-protobuf"]["schema"]["format"] == "binary"


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
