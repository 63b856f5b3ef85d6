"""Request bodies (ingestion/body.py) through POST /v1/events: 10 MB, gzip and its
bombs, content types, chunked bodies, JSON and its numbers, 1,000 events a batch."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pytest

from ingestion.body import MAX_BODY_BYTES
from ingestion.validation import OUT_OF_RANGE
from tests.ingestion.helpers import event, post, stored

MB = 1024 * 1024


def test_body_over_10_mb_is_413(client, acme):
    body = b'{"events": [], "pad": "' + b"x" * (10 * MB) + b'"}'
    response = post(client, acme.ingest_key, body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("content_type", ["application/json", "application/xml"])
def test_gzip_bomb_stops_at_the_limit(client, acme, content_type):
    # 413 comes before 415 (api.md's order), also after decompression.
    bomb = gzip.compress(b'{"events": [], "pad": "' + b"0" * (64 * MB) + b'"}')
    assert len(bomb) < MB
    response = client.post(
        "/v1/events",
        data=bomb,
        content_type=content_type,
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_X_PG_API_KEY=acme.ingest_key,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_gzip_body_is_accepted(client, acme):
    response = post(client, acme.ingest_key, {"events": [event()]}, gzipped=True)
    assert response.status_code == 202
    assert response.json()["accepted"] == 1


@pytest.mark.parametrize(
    ("content_type", "status", "code"),
    [
        ("application/json", 400, "invalid_json"),
        # api.md's order: a wrong content type (415) before a body that is not JSON (400)
        ("application/xml", 415, "unsupported_media_type"),
    ],
)
def test_corrupt_gzip_is_400_unless_the_content_type_is_wrong(
    client, acme, content_type, status, code
):
    for corrupt in (b"\x1f\x8bnot gzip at all", gzip.compress(b'{"events": []}')[:-6], b"abc"):
        response = post(
            client,
            acme.ingest_key,
            corrupt,
            content_type=content_type,
            HTTP_CONTENT_ENCODING="gzip",
        )
        assert response.status_code == status, corrupt
        assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("content_type", ["application/xml", "multipart/form-data", ""])
def test_other_content_types_are_415(client, acme, content_type):
    response = post(client, acme.ingest_key, {"events": [event()]}, content_type=content_type)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "text/plain;charset=UTF-8", "application/json; charset=utf-8"]
)
def test_json_and_text_plain_are_accepted(client, acme, content_type):
    response = post(client, acme.ingest_key, {"events": [event()]}, content_type=content_type)
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b'{"events": [{"page.title": "caf\xe9"}]}', "invalid_json"),  # Latin-1 in a string
        (b'{"events": [{"caf\xe9": 1}]}', "invalid_json"),  # and in a key
        (b"[" * 100_000 + b"]" * 100_000, "invalid_json"),
        (b"[]", "invalid_body"),
        (b'"events"', "invalid_body"),
        (b"{}", "invalid_body"),
        (b'{"events": {}}', "invalid_body"),
        (b'{"events": null}', "invalid_body"),
    ],
)
def test_bad_bodies_are_400(client, acme, body, code):
    response = post(client, acme.ingest_key, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def _post_chunked(client, key: str, data: bytes, **extra):
    # What gunicorn hands over for `Transfer-Encoding: chunked`: no Content-Length, and an
    # input that yields the de-chunked body.
    chunked: dict[str, Any] = {
        "CONTENT_LENGTH": "",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(data),
    }
    return post(client, key, data, **chunked, **extra)


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_chunked_body_is_read_to_its_end(client, acme, gzipped):
    data = json.dumps({"events": [event()]}).encode()
    data = gzip.compress(data) if gzipped else data
    encoding = "gzip" if gzipped else ""
    response = _post_chunked(client, acme.ingest_key, data, HTTP_CONTENT_ENCODING=encoding)
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == 1


def test_a_chunked_body_over_10_mb_is_413(client, acme):
    response = _post_chunked(client, acme.ingest_key, b" " * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_lone_surrogate_escape_is_400_named_as_such(client, acme):
    body = json.dumps({"events": [event()]}).encode()[:-3] + b', "page.title": "\\ud800"}]}'
    response = post(client, acme.ingest_key, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_json" and "lone surrogate escape" in error["message"]
    paired = post(client, acme.ingest_key, {"events": [event(page__title="\U0001f600")]})
    assert paired.status_code == 202 and paired.json()["accepted"] == 1


def test_empty_body_is_400_invalid_json(client, acme):
    response = client.generic(
        "POST",
        "/v1/events",
        b"",
        CONTENT_TYPE="application/json",
        HTTP_X_PG_API_KEY=acme.ingest_key,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_more_than_1000_events_is_400_and_nothing_is_stored(client, acme):
    events = [event(event_id=f"e{i}") for i in range(1001)]
    response = post(client, acme.ingest_key, {"events": events})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "batch_too_large"
    assert stored(acme.org.pk) == []


def test_exactly_1000_events_are_accepted(client, acme):
    events = [event(event_id=f"e{i}") for i in range(1000)]
    response = post(client, acme.ingest_key, {"events": events})
    assert response.json()["accepted"] == 1000
    assert len(stored(acme.org.pk)) == 1000


def test_a_number_out_of_range_is_that_events_error_not_the_batchs(client, acme):
    good = json.dumps(event(event_id="good")).encode()
    lcp = json.dumps(event(event_id="lcp")).encode()[:-1] + b', "performance.lcp_ms": 1e400}'
    digits = json.dumps(event(event_id="big")).encode()[:-1] + b', "metadata": {"n": 1'
    digits += b"0" * 5000 + b"}}"
    body = b'{"pad": -1e999, "events": [' + b", ".join([lcp, good, digits]) + b"]}"
    response = post(client, acme.ingest_key, body)
    assert response.status_code == 202, response.content
    result = response.json()
    assert (result["accepted"], result["rejected"]) == (1, 2)
    assert [(error["index"], error["field"]) for error in result["errors"]] == [
        (0, None),
        (2, None),
    ]
    assert all(error["message"] == OUT_OF_RANGE for error in result["errors"])
    assert [row.event_id for row in stored(acme.org.pk)] == ["good"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[1e400]", "invalid_body"),
        (b'{"events": 1e400}', "invalid_body"),
        (b"{1e400", "invalid_json"),
    ],
)
def test_a_number_out_of_range_outside_the_events_keeps_the_whole_request_errors(
    client, acme, body, code
):
    response = post(client, acme.ingest_key, body)
    assert (response.status_code, response.json()["error"]["code"]) == (400, code)
