"""Small hardening items: events beyond the retention, /metrics' refusals, the body contract."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from orgs import selectors
from tests.ingestion.helpers import event, post, retention_set, stored


@pytest.fixture(autouse=True)
def fresh_project_cache():
    """Retention changes here must not reach later tests through the 5 s project cache."""
    yield
    selectors._project_cache.clear()


def ago(**delta: float) -> str:
    return (timezone.now() - timedelta(**delta)).isoformat()


def test_an_event_older_than_the_orgs_retention_is_a_per_event_error_and_not_stored(
    client, acme, globex
):
    retention_set(acme.org.pk, 30)
    batch = [
        event(event_id="too_old", event__timestamp=ago(days=30, minutes=1)),
        event(event_id="just_inside", event__timestamp=ago(days=30, minutes=-1)),
    ]
    response = post(client, acme.ingest_key, {"events": batch})
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 0, 1)
    [error] = body["errors"]
    assert set(error) == {"index", "field", "code", "message"}
    assert (error["index"], error["field"], error["code"]) == (0, "event.timestamp", "too_old")
    assert error["message"].startswith("is too old: older than the organization's retention")
    assert [row.event_id for row in stored(acme.org.pk)] == ["just_inside"]
    # The org's retention decides: globex keeps 90 days and stores both.
    response = post(client, globex.ingest_key, {"events": batch})
    assert response.json()["accepted"] == 2
    assert {row.event_id for row in stored(globex.org.pk)} == {"too_old", "just_inside"}


def test_a_batch_of_only_too_old_events_stores_nothing(client, acme):
    old = [event(event_id=f"old_{n}", event__timestamp=ago(days=91 + n)) for n in range(3)]
    body = post(client, acme.ingest_key, {"events": old}).json()
    assert (body["accepted"], body["rejected"]) == (0, 3)
    assert [e["index"] for e in body["errors"]] == [0, 1, 2]
    assert stored(acme.org.pk) == []


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize("path", ["/metrics", "/health", "/ready"])
def test_other_methods_are_405_in_the_envelope_with_allow_even_under_csrf(db, path, method):
    # Django's test client skips the CSRF check by default; a real client does not.
    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)(path, REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"


def test_the_openapi_document_marks_the_events_body_required(client, db):
    document = client.get("/api/schema/?format=json").json()
    assert document["paths"]["/v1/events"]["post"]["requestBody"]["required"] is True


def test_a_request_without_a_body_is_refused(client, acme):
    response = client.post("/v1/events", HTTP_X_PG_API_KEY=acme.ingest_key)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("post", "/api/docs/", {}, 405),
        ("get", "/api/docs/?format=xml", {}, 404),
        ("get", "/api/docs/", {"HTTP_ACCEPT": "application/xml"}, 406),
    ],
)
def test_the_swagger_page_answers_its_errors_in_json(client, db, method, path, headers, status):
    response = getattr(client, method)(path, **headers)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"]
