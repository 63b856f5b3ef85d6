"""API key authentication (orgs/authentication.py; api.md, tenancy.md): headers, errors,
revocation, last_used_at; and keys without headers (api.md, "Keys without
headers"): `navigator.sendBeacon` posts text/plain with no header of ours, a pixel only has a
URL, a Segment client sends its write key as the Basic user."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.core.management import call_command

from orgs import authentication, keys
from orgs.models import ApiKey
from productgraph.tenancy.context import org_context
from tests.ingestion.helpers import event, post, stored

pytestmark = [pytest.mark.urls("tests.probe_urls"), pytest.mark.django_db]


def test_x_pg_api_key_header_authenticates(client, acme):
    response = client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.ingest_key)
    assert response.status_code == 200
    assert response.json()["project_id"] == acme.project.pk
    assert response.json()["kind"] == "ingest"


def test_bearer_header_authenticates(client, acme):
    response = client.get("/probe/whoami", HTTP_AUTHORIZATION=f"Bearer {acme.secret_key}")
    assert response.status_code == 200
    assert response.json()["kind"] == "secret"


def test_missing_key_is_401_missing_api_key(client, db):
    response = client.get("/probe/whoami")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"


@pytest.mark.parametrize(
    "key",
    [
        "garbage",
        "pk_" + "a" * 40,
        "pk_" + "a" * 39 + "!",
        "xx_" + "a" * 40,
        "pk_" + "a" * 4000,
        "' OR 1=1 --",
    ],
)
def test_malformed_or_unknown_key_is_401_invalid_api_key(client, acme, key):
    response = client.get("/probe/whoami", HTTP_X_PG_API_KEY=key)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_key_with_right_prefix_but_wrong_secret_is_rejected(client, acme):
    forged = acme.ingest_key[: keys.PREFIX_LENGTH] + "Z" * (keys.KEY_LENGTH - keys.PREFIX_LENGTH)
    response = client.get("/probe/whoami", HTTP_X_PG_API_KEY=forged)
    assert response.status_code == 401


def test_revoked_key_is_rejected_at_once(client, acme, capsys):
    prefix = keys.prefix_of(acme.ingest_key)
    call_command("revoke_api_key", "--prefix", prefix)
    response = client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.ingest_key)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    other = client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.secret_key)
    assert other.status_code == 200, "revoking one key leaves the project's other keys alone"


def _last_used(acme):
    with org_context(acme.org.pk):
        return ApiKey.objects.get(prefix=keys.prefix_of(acme.ingest_key)).last_used_at


def test_last_used_at_is_written_at_most_once_a_minute(client, acme):
    authentication._last_touched.clear()
    assert _last_used(acme) is None
    client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.ingest_key)
    first = _last_used(acme)
    assert first is not None
    client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.ingest_key)
    assert _last_used(acme) == first, "a second request within the minute writes nothing"

    stale = first - timedelta(minutes=2)
    with org_context(acme.org.pk):
        ApiKey.objects.filter(prefix=keys.prefix_of(acme.ingest_key)).update(last_used_at=stale)
    authentication._last_touched.clear()
    client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.ingest_key)
    assert _last_used(acme) > stale


def beacon(client, payload, *, path="/v1/events", **headers):
    """What `navigator.sendBeacon(url, JSON.stringify(payload))` sends: text/plain, no key."""
    return client.post(path, data=json.dumps(payload), content_type="text/plain", **headers)


def test_a_beacon_with_the_key_in_its_body_lands(client, acme):
    response = beacon(client, {"api_key": acme.ingest_key, "events": [event(duration_ms=125.5)]})
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == 1
    (row,) = stored(acme.org.pk)
    assert (row.event_id, row.project_id, row.duration_ms) == ("evt_001", acme.project.pk, 126)


def test_a_key_in_the_query_string_lands(client, acme):
    response = beacon(client, {"events": [event()]}, path=f"/v1/events?api_key={acme.ingest_key}")
    assert response.status_code == 202, response.content
    assert [row.event_id for row in stored(acme.org.pk)] == ["evt_001"]


def test_a_gzipped_body_may_carry_the_key(client, acme):
    payload = {"api_key": acme.ingest_key, "events": [event()]}
    response = post(client, None, payload, gzipped=True, content_type="text/plain")
    assert response.status_code == 202, response.content


def test_the_key_as_the_basic_user_lands(client, acme):
    credentials = base64.b64encode(f"{acme.ingest_key}:".encode()).decode()
    response = post(client, None, {"events": [event()]}, HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code == 202, response.content


@pytest.mark.parametrize("place", ["query", "body"])
def test_a_secret_key_outside_the_headers_is_refused_and_nothing_stored(client, acme, place):
    payload = {"events": [event()]}
    if place == "body":
        response = beacon(client, {**payload, "api_key": acme.secret_key})
    else:
        response = beacon(client, payload, path=f"/v1/events?api_key={acme.secret_key}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "wrong_key_kind"
    assert stored(acme.org.pk) == []


@pytest.mark.parametrize("place", ["query", "body"])
def test_a_header_key_and_a_different_second_key_are_a_400(client, acme, globex, place):
    payload = {"events": [event()]}
    if place == "body":
        response = post(client, acme.ingest_key, {**payload, "api_key": globex.ingest_key})
    else:
        path = f"/v1/events?api_key={globex.ingest_key}"
        response = post(client, acme.ingest_key, payload, path=path)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "conflicting_api_keys"
    assert stored(acme.org.pk) == [] and stored(globex.org.pk) == []


def test_the_same_key_twice_is_one_key(client, acme):
    path = f"/v1/events?api_key={acme.ingest_key}"
    response = post(client, acme.ingest_key, {"events": [event()], "api_key": acme.ingest_key},
                    path=path)  # fmt: skip
    assert response.status_code == 202, response.content


def test_a_query_key_and_a_different_body_key_are_a_400(client, acme, globex):
    path = f"/v1/events?api_key={acme.ingest_key}"
    response = beacon(client, {"events": [event()], "api_key": globex.ingest_key}, path=path)
    assert response.json()["error"]["code"] == "conflicting_api_keys"


@pytest.mark.parametrize("key", ["pk_" + "A" * 40, "", 42, None, ["pk_x"]])
def test_a_body_key_that_is_not_a_valid_key_is_401(client, acme, key):
    payload = {"events": [event()], "api_key": key}
    response = beacon(client, payload)
    assert response.status_code == 401
    expected = "missing_api_key" if key is None else "invalid_api_key"
    assert response.json()["error"]["code"] == expected
    assert stored(acme.org.pk) == []


@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", b'{"events": 3}', json.dumps({"events": [{}] * 1001}).encode()]
)
def test_without_a_key_anywhere_a_bad_body_is_still_401_missing_api_key(client, body):
    response = client.post("/v1/events", data=body, content_type="text/plain")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"


def test_a_body_key_decides_the_project_like_a_header_key(client, acme, globex):
    """globex's key in the body writes globex's project, never acme's, whatever the events say."""
    events = [event(event_id="mine"), event(event_id="theirs", project_id="proj_acme")]
    response = beacon(client, {"api_key": globex.ingest_key, "events": events})
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 1), body
    assert body["errors"][0]["field"] == "project_id"
    assert [row.event_id for row in stored(globex.org.pk)] == ["mine"]
    assert stored(acme.org.pk) == []


@pytest.mark.parametrize(
    ("events", "code"), [([event()] * 1001, "batch_too_large"), ({"a": 1}, "invalid_body")]
)
def test_a_body_key_with_a_bad_batch_gets_the_batchs_error_not_a_401(client, acme, events, code):
    response = beacon(client, {"api_key": acme.ingest_key, "events": events})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert stored(acme.org.pk) == []


def test_a_secret_body_key_with_a_bad_batch_is_still_refused_as_a_secret_key(client, acme):
    response = beacon(client, {"api_key": acme.secret_key, "events": {"a": 1}})
    assert response.json()["error"]["code"] == "wrong_key_kind"


def test_two_different_keys_in_the_query_string_are_a_400(client, acme, globex):
    path = f"/v1/events?api_key={acme.ingest_key}&api_key={globex.ingest_key}"
    response = beacon(client, {"events": [event()]}, path=path)
    assert response.json()["error"]["code"] == "conflicting_api_keys"
    assert stored(acme.org.pk) == [] and stored(globex.org.pk) == []


@pytest.mark.parametrize("place", ["query", "body"])
def test_a_secret_key_outside_the_headers_is_refused_even_beside_itself_in_a_header(
    client, acme, place
):
    """Found by attack: the same sk_ in the header and the URL or body was taken."""
    payload = {"events": [event()]}
    if place == "body":
        response = post(client, acme.secret_key, {**payload, "api_key": acme.secret_key})
    else:
        path = f"/v1/events?api_key={acme.secret_key}"
        response = post(client, acme.secret_key, payload, path=path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "wrong_key_kind"
    assert stored(acme.org.pk) == []
