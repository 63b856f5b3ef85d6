"""POST /v1/events (ingestion/views.py): api.md's answers, in its order, for what the
view decides; the body's limits, CORS, the rate limit and duplicates are tested with
their modules (test_body.py, test_cors.py, test_ratelimit.py, test_writer.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.ingestion.helpers import RECENT, event, post, stored


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


def test_other_top_level_keys_are_ignored(client, acme):
    payload = {"events": [event()], "sent_at": "2026-01-15T10:30:01Z", "sdk": {"v": 1}}
    assert post(client, acme.ingest_key, payload).status_code == 202


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
