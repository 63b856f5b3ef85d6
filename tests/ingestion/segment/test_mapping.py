"""Segment messages to events (ingestion/segment/mapping.py; segment.md): field by
field, each message's own rejection, derived ids, times and sessions, contexts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingestion.segment.mapping import derived_session_id, messages_map
from tests.ingestion.helpers import RECENT, stored
from tests.ingestion.segment.helpers import DAY, TIMESTAMP, batch, message, send


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
