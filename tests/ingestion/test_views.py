"""POST /v1/events: every row of api.md's table, in its order."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction

from ingestion import ratelimit
from ingestion.body import MAX_BODY_BYTES
from ingestion.validation import OUT_OF_RANGE
from orgs.models import MAX_RETENTION_DAYS, Project
from productgraph.tenancy.context import org_context
from tests.ingestion.helpers import RECENT, event, post, retention_set, stored

MB = 1024 * 1024


def test_the_seed_curl_is_accepted_and_stored_field_for_field(client, acme):
    response = post(client, acme.ingest_key, {"events": [event(page__path="/home")]})
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []}
    [row] = stored(acme.org.pk)
    assert (row.event_id, row.session_id, row.event_type, row.page_path) == (
        "evt_001",
        "sess_001",
        "page.view",
        "/home",
    )
    assert row.timestamp == RECENT
    assert row.project_id == acme.project.pk and row.org_id == acme.org.pk


@pytest.mark.parametrize(
    ("accept", "query"), [("text/plain", ""), ("application/xml", ""), ("*/*", "?format=xml")]
)
def test_the_answer_is_json_whatever_the_client_accepts(client, acme, accept, query):
    response = client.post(
        "/v1/events" + query,
        data=json.dumps({"events": [event()]}),
        content_type="application/json",
        HTTP_ACCEPT=accept,
        HTTP_X_PG_API_KEY=acme.ingest_key,
    )
    assert response.status_code == 202, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["accepted"] == 1
    bad = client.post(
        "/v1/events" + query, data=b"{", content_type="application/json", HTTP_ACCEPT=accept
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (401, "missing_api_key")


def test_secret_key_and_bearer_header_are_accepted(client, acme):
    response = client.post(
        "/v1/events",
        data=json.dumps({"events": [event()]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {acme.secret_key}",
    )
    assert response.status_code == 202


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
@pytest.mark.parametrize("key", ["ingest", "none", "unknown"])
def test_other_methods_are_405_before_any_key_check(client, acme, method, key):
    keys = {"ingest": acme.ingest_key, "none": None, "unknown": "pk_" + "x" * 40}
    headers = {} if keys[key] is None else {"HTTP_X_PG_API_KEY": keys[key]}
    response = getattr(client, method)("/v1/events", **headers)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_no_key_is_401_missing_api_key(client, acme):
    response = post(client, None, {"events": [event()]})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"


def test_unknown_key_is_401_invalid_api_key(client, acme):
    response = post(client, "pk_" + "x" * 40, {"events": [event()]})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_auth_comes_before_body_checks(client, db):
    response = post(client, "nope", b"not json", content_type="application/xml")
    assert response.status_code == 401


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


def test_valid_events_are_stored_and_invalid_ones_listed(client, acme):
    events = [
        event(event_id="ok1"),
        event(event_id="bad", event__type="page.viewed"),
        event(event_id="ok2"),
    ]
    response = post(client, acme.ingest_key, {"events": events})
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (2, 1, 0)
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, "event.type")]
    assert "page.view" in body["errors"][0]["message"], "the allowed values are listed"
    assert sorted(r.event_id for r in stored(acme.org.pk)) == ["ok1", "ok2"]


def test_a_browser_sdks_fractional_milliseconds_are_stored_rounded_half_to_even(client, acme):
    # The exact shape a browser SDK sends: durations measured with performance.now().
    sdk_event = {
        "event_id": "6fc9294c-0000-4000-8000-000000000001",
        "project_id": "proj_acme",
        "session.id": "sess-mxdjmby6-1a098bcc",
        "event.type": "api.response",
        "event.timestamp": datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
        "event.sequence": 7,
        "api.method": "POST",
        "api.path": "/api/cart",
        "api.status_code": 201,
        "api.duration_ms": 23.599999999976717,
        "duration_ms": 125.5,
        "ui.viewport": "1280x720",
        "user.anonymous_id": "a4b56be3-0000-4000-8000-000000000002",
        "metadata": {"app_name": "shop", "environment": "test"},
    }
    events = [
        sdk_event,
        event(event_id="half-even", duration_ms=124.5, api__duration_ms=0.5),
        event(event_id="negative", duration_ms=-0.4),
        event(event_id="string", api__duration_ms="23.6"),
        event(event_id="boolean", duration_ms=True),
    ]
    response = post(client, acme.ingest_key, {"events": events})
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 3), body
    assert [(e["index"], e["field"], e["code"], e["message"]) for e in body["errors"]] == [
        (2, "duration_ms", "invalid", "must be at least 0"),
        (3, "api.duration_ms", "invalid", "must be a number, not a string"),
        (4, "duration_ms", "invalid", "must be a number, not a boolean"),
    ]
    rows = {row.event_id: row for row in stored(acme.org.pk)}
    assert set(rows) == {sdk_event["event_id"], "half-even"}
    sdk_row = rows[sdk_event["event_id"]]
    assert (sdk_row.api_duration_ms, sdk_row.duration_ms) == (24, 126)
    assert (sdk_row.api_status_code, sdk_row.sequence, sdk_row.ui_viewport) == (201, 7, "1280x720")
    assert (rows["half-even"].duration_ms, rows["half-even"].api_duration_ms) == (124, 0)


def test_all_rejected_is_still_202(client, acme):
    response = post(client, acme.ingest_key, {"events": [{"foo": 1}]})
    assert response.status_code == 202
    assert response.json()["accepted"] == 0 and response.json()["rejected"] == 1


def test_empty_batch_is_202(client, acme):
    response = post(client, acme.ingest_key, {"events": []})
    assert response.json() == {"accepted": 0, "duplicates": 0, "rejected": 0, "errors": []}


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


def test_other_top_level_keys_are_ignored(client, acme):
    payload = {"events": [event()], "sent_at": "2026-01-15T10:30:01Z", "sdk": {"v": 1}}
    assert post(client, acme.ingest_key, payload).status_code == 202


def test_resending_is_a_duplicate_not_a_second_row(client, acme):
    post(client, acme.ingest_key, {"events": [event()]})
    response = post(client, acme.ingest_key, {"events": [event(), event(event_id="new")]})
    assert response.json() == {"accepted": 2, "duplicates": 1, "rejected": 0, "errors": []}
    assert len(stored(acme.org.pk)) == 2


def test_same_event_id_twice_in_a_batch_stores_one_row_and_counts_one_duplicate(client, acme):
    response = post(client, acme.ingest_key, {"events": [event(), event(page__path="/other")]})
    assert response.json() == {"accepted": 2, "duplicates": 1, "rejected": 0, "errors": []}
    [row] = stored(acme.org.pk)
    assert row.page_path is None, "the first occurrence wins"


def test_same_event_id_in_two_projects_is_two_events(client, acme, globex):
    post(client, acme.ingest_key, {"events": [event()]})
    response = post(client, globex.ingest_key, {"events": [event()]})
    assert response.json()["duplicates"] == 0


def test_acme_key_cannot_write_into_globex_even_naming_its_project(client, acme, globex):
    payload = {
        "events": [event(project_id="proj_globex"), event(event_id="x", org__id=globex.org.pk)]
    }
    response = post(client, acme.ingest_key, payload)
    body = response.json()
    assert body["rejected"] == 1
    assert body["errors"] == [
        {
            "index": 0,
            "field": "project_id",
            "code": "invalid",
            "message": "does not match the API key",
        }
    ]
    assert stored(globex.org.pk) == []
    [row] = stored(acme.org.pk)
    assert row.org_id == acme.org.pk and row.attributes is None, "org.id is ignored"


@pytest.mark.parametrize("key", ["project_id", "product_id"])
@pytest.mark.parametrize("value", ["proj_acme", "web"])
def test_project_id_may_name_the_keys_project_by_public_id_or_slug(client, acme, key, value):
    response = post(client, acme.ingest_key, {"events": [event(**{key: value})]})
    assert response.json()["accepted"] == 1


def test_database_unavailable_is_503_with_retry_after(client, committed):
    from tests.conftest import database_down, make_tenant

    acme = make_tenant("acme")
    with database_down():
        response = post(client, acme.ingest_key, {"events": [event()]})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert response["Retry-After"].isdigit()


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


class TestCors:
    def test_preflight_is_204_with_the_contract_headers(self, client, db):
        response = client.options(
            "/v1/events",
            HTTP_ORIGIN="https://app.example.com",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, x-pg-api-key",
        )
        assert response.status_code == 204
        assert response["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert response["Access-Control-Allow-Credentials"] == "true"
        assert response["Access-Control-Allow-Methods"] == "POST, OPTIONS"
        assert response["Access-Control-Allow-Headers"] == (
            "Content-Type, Content-Encoding, X-PG-API-Key, Authorization"
        )
        assert response["Access-Control-Max-Age"] == "86400"
        assert "Origin" in response["Vary"] or "origin" in response["Vary"]
        assert response.content == b"" and "Content-Type" not in response

    def test_an_options_that_is_no_preflight_is_204_with_the_methods(self, client, acme):
        response = client.options("/v1/events", HTTP_X_PG_API_KEY=acme.ingest_key)
        assert response.status_code == 204
        assert response["Allow"] == "POST, OPTIONS"
        assert response.content == b""

    def test_post_reflects_an_allowed_origin(self, client, acme):
        response = post(
            client, acme.ingest_key, {"events": [event()]}, HTTP_ORIGIN="https://a.example"
        )
        assert response["Access-Control-Allow-Origin"] == "https://a.example"
        assert response["Access-Control-Allow-Credentials"] == "true"

    def test_a_browser_may_read_retry_after_and_the_request_id(self, client, acme):
        response = post(
            client, acme.ingest_key, {"events": [event()]}, HTTP_ORIGIN="https://a.example"
        )
        exposed = {
            name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")
        }
        assert exposed == {"retry-after", "x-request-id"}

    def test_project_origin_list_is_enforced(self, client, acme):
        with transaction.atomic(), org_context(acme.org.pk):
            Project.objects.filter(pk=acme.project.pk).update(
                allowed_origins=["https://shop.acme.test"]
            )
        allowed = post(
            client, acme.ingest_key, {"events": [event()]}, HTTP_ORIGIN="https://shop.acme.test"
        )
        other = post(
            client,
            acme.ingest_key,
            {"events": [event(event_id="2")]},
            HTTP_ORIGIN="https://evil.test",
        )
        assert allowed["Access-Control-Allow-Origin"] == "https://shop.acme.test"
        assert "Access-Control-Allow-Origin" not in other
        assert "origin" in other["Vary"].lower()  # a cache must not reuse it for shop.acme

    def test_no_cors_on_other_paths(self, client, db):
        response = client.get("/ready", HTTP_ORIGIN="https://a.example")
        assert "Access-Control-Allow-Origin" not in response

    @pytest.mark.parametrize(
        "origin", ["https://a.example\r\nX-Evil: 1", "javascript:alert(1)//x y"]
    )
    def test_malformed_origin_is_not_reflected(self, client, acme, origin):
        response = post(client, acme.ingest_key, {"events": [event()]}, HTTP_ORIGIN=origin)
        assert "Access-Control-Allow-Origin" not in response
        assert "origin" in response["Vary"].lower()


def test_every_answer_is_json_with_its_charset(client, acme):
    # api.md: "All bodies are JSON (application/json; charset=utf-8), errors included."
    answers = [
        post(client, acme.ingest_key, {"events": [event()]}),  # 202
        post(client, acme.ingest_key, b"{not json"),  # 400
        post(client, None, {"events": []}),  # 401
        client.get("/v1/events"),  # 405
        post(client, acme.ingest_key, b"{}", content_type="application/xml"),  # 415
        client.get("/health"),
        client.get("/no-such-path"),  # 404
    ]
    assert [answer["Content-Type"] for answer in answers] == [
        "application/json; charset=utf-8"
    ] * len(answers)


def test_a_partition_is_made_for_the_earliest_and_latest_accepted_timestamps(client, acme):
    retention_set(acme.org.pk, MAX_RETENTION_DAYS)  # an org keeping 1970's events
    latest = datetime.now(UTC) + timedelta(hours=23)
    batch = [
        event(event_id="first", event__timestamp="1970-01-01T00:00:00Z"),
        event(event_id="last", event__timestamp=latest.isoformat()),
    ]
    response = post(client, acme.ingest_key, {"events": batch})
    assert response.json()["accepted"] == 2
    with transaction.atomic(), org_context(acme.org.pk), connection.cursor() as cursor:
        for name in ("ingestion_event_197001", f"ingestion_event_{latest:%Y%m}"):
            cursor.execute("SELECT count(*) FROM pg_class WHERE relname = %s", [name])
            assert cursor.fetchone()[0] == 1, name
        cursor.execute("SELECT count(*) FROM ingestion_event_default")
        assert cursor.fetchone()[0] == 0, "the default partition is only a safety net"


def test_the_openapi_document_names_every_key_place_text_plain_and_every_status(client, db):
    document = client.get("/api/schema/?format=json").json()
    operation = document["paths"]["/v1/events"]["post"]
    assert operation["security"] == [
        {"ApiKeyHeader": []},
        {"BearerKey": []},
        {"ApiKeyQuery": []},
        {"BasicKey": []},
    ]
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"]["name"] == "X-PG-API-Key"
    assert (schemes["BearerKey"]["type"], schemes["BearerKey"]["scheme"]) == ("http", "bearer")
    assert (schemes["ApiKeyQuery"]["in"], schemes["ApiKeyQuery"]["name"]) == ("query", "api_key")
    assert (schemes["BasicKey"]["type"], schemes["BasicKey"]["scheme"]) == ("http", "basic")
    batch = operation["requestBody"]["content"]["application/json"]["schema"]
    assert "api_key" in batch["properties"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "text/plain"}
    assert {"202", "400", "401", "403", "405", "413", "415", "429", "503"} <= set(
        operation["responses"]
    )
