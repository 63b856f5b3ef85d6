"""Segment bodies decoded (ingestion/segment/payload.py): what is not the body its
content type says, 1,001 messages, a number out of range in one message."""

from __future__ import annotations

import json

import pytest

from tests.ingestion.helpers import stored
from tests.ingestion.segment.helpers import assert_error, batch, message, send


def test_a_number_out_of_range_is_that_messages_error(client, acme):
    raw = json.dumps(batch(message(messageId="ok"))).encode()
    raw = raw.replace(b'"batch": [', b'"batch": [{"type": "track", "n": 1e400}, ')
    response = send(client, "/v1/batch", raw, key=acme.ingest_key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"], body["errors"][0]["index"]) == (1, 1, 0)
    assert [row.event_id for row in stored(acme.org.pk)] == ["ok"]


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
