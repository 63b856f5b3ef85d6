"""An attacker at the HTTP edges: forged keys, hostile bodies, CORS header games.

Already covered elsewhere, and left there (docs/reliability.md lists them): unknown, revoked,
short and 4,000-character keys on a probe view (tests/orgs/test_authentication.py); a 10 MB
body, a gzip bomb, corrupt gzip, 100,000 nested brackets, wrong JSON types and media types,
CRLF and `javascript:` origins, a project's origin list (tests/ingestion/test_body.py and
test_cors.py); an ingest key, an unknown key and no credentials on GraphQL
(tests/graphql_api/orgs/test_auth.py).
"""

from __future__ import annotations

import gzip
import json

import pytest
from django.core.management import call_command
from django.db import transaction

from orgs import keys, selectors
from orgs.models import Project
from productgraph.tenancy.context import org_context
from tests.graphql_api.helpers import error_codes, gql, member
from tests.ingestion.helpers import event, post, stored

PROJECTS = "{ projects { publicId } }"


def forged_keys(tenant) -> dict[str, str]:
    """Keys that must never authenticate, built from a real one."""
    real = tenant.ingest_key
    return {
        "truncated": real[:-1],
        "one-too-many": real + "a",
        "other-kind-prefix": "sk_" + real[3:],
        "upper-case-prefix": real.replace("pk_", "PK_", 1),
        "prefix-only": keys.prefix_of(real),
        "non-ascii-letter": real[:-1] + "é",
        "fullwidth": "pk_" + "\uff21" * 40,
        "arabic-digits": "pk_" + "٣" * 40,
        "nul": real[:-1] + "\x00",
        "crlf-injection": real + "\r\nX-Evil: 1",
        "huge": "pk_" + "a" * 100_000,
        "sql": "pk_' OR '1'='1' --" + "a" * 23,
    }


def test_forged_keys_are_401_invalid_api_key_everywhere(client, acme):
    for label, key in forged_keys(acme).items():
        rest = post(client, key, {"events": [event()]})
        assert rest.status_code == 401, label
        assert rest.json()["error"]["code"] == "invalid_api_key", label
        assert "X-Evil" not in rest
        graph = gql(client, PROJECTS, key=key)
        assert graph.status_code == 401, label
        assert error_codes(graph.json()) == ["invalid_api_key"], label
        assert graph.json()["error"]["code"] == "invalid_api_key"
    assert stored(acme.org.pk) == []


@pytest.mark.parametrize(
    "authorization", ["Basic {key}", "Bearer", "Bearer ", "Token {key}", "{key}", "Bearer{key}"]
)
def test_anything_but_bearer_is_401_missing_api_key(client, acme, authorization):
    header = authorization.format(key=acme.ingest_key)
    rest = post(client, None, {"events": [event()]}, HTTP_AUTHORIZATION=header)
    assert rest.status_code == 401
    assert rest.json()["error"]["code"] == "missing_api_key"
    graph = gql(client, PROJECTS, HTTP_AUTHORIZATION=header.replace("pk_", "sk_"))
    assert graph.status_code == 401
    assert error_codes(graph.json()) == ["not_authenticated"]


def test_a_bad_x_pg_api_key_is_not_rescued_by_a_good_bearer(client, acme):
    rest = post(
        client,
        "pk_" + "a" * 40,
        {"events": [event()]},
        HTTP_AUTHORIZATION=f"Bearer {acme.ingest_key}",
    )
    assert (rest.status_code, rest.json()["error"]["code"]) == (401, "invalid_api_key")
    graph = gql(client, PROJECTS, HTTP_X_PG_API_KEY="sk_" + "a" * 40, key=acme.secret_key)
    assert graph.status_code == 401 and error_codes(graph.json()) == ["invalid_api_key"]


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_x_pg_api_key_presents_nothing_so_the_bearer_key_counts(client, acme, blank):
    rest = post(
        client,
        None,
        {"events": [event()]},
        HTTP_X_PG_API_KEY=blank,
        HTTP_AUTHORIZATION=f"Bearer {acme.ingest_key}",
    )
    assert rest.status_code == 202, rest.content
    alone = post(client, None, {"events": [event()]}, HTTP_X_PG_API_KEY=blank)
    assert (alone.status_code, alone.json()["error"]["code"]) == (401, "missing_api_key")


def test_a_revoked_secret_key_is_refused_by_graphql_at_once(client, acme):
    assert gql(client, PROJECTS, key=acme.secret_key).status_code == 200
    call_command("revoke_api_key", "--prefix", keys.prefix_of(acme.secret_key))
    response = gql(client, PROJECTS, key=acme.secret_key)
    assert response.status_code == 401
    assert error_codes(response.json()) == ["invalid_api_key"]


def test_a_bad_key_is_not_rescued_by_a_member_session(client, acme):
    client.force_login(member(acme, "ann", "admin"))
    assert gql(client, PROJECTS, org="acme").status_code == 200
    response = gql(client, PROJECTS, key="sk_" + "a" * 40, org="acme")
    assert response.status_code == 401 and error_codes(response.json()) == ["invalid_api_key"]


def test_a_key_request_ignores_x_pg_org(client, acme, globex):
    response = gql(client, PROJECTS, key=acme.secret_key, org="globex")
    assert response.json() == {"data": {"projects": [{"publicId": "proj_acme"}]}}


# --- bodies -----------------------------------------------------------------------------------

BATCH = json.dumps({"events": [event()]}).encode()


def _post_raw(client, acme, data: bytes, **headers):
    headers.setdefault("HTTP_CONTENT_ENCODING", "gzip")
    return client.post(
        "/v1/events",
        data=data,
        content_type="application/json",
        HTTP_X_PG_API_KEY=acme.ingest_key,
        **headers,
    )


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("two-members", gzip.compress(BATCH[:10]) + gzip.compress(BATCH[10:]), 202, None),
        ("trailing-garbage", gzip.compress(BATCH) + b"garbage", 400, "invalid_json"),
        ("truncated", gzip.compress(BATCH)[:-6], 400, "invalid_json"),
        ("gzip-in-gzip", gzip.compress(gzip.compress(BATCH)), 400, "invalid_json"),
        (
            "bomb-in-second-member",
            gzip.compress(b" ") + gzip.compress(b" " * (11 * 1024 * 1024)),
            413,
            "payload_too_large",
        ),
    ],
)
def test_gzip_members_trailers_and_bombs(client, acme, name, data, status, code):
    response = _post_raw(client, acme, data)
    assert response.status_code == status, (name, response.content)
    if code:
        assert response.json()["error"]["code"] == code
        assert stored(acme.org.pk) == []
    else:
        assert response.json()["accepted"] == 1


@pytest.mark.parametrize("encoding", ["br", "deflate", "gzip, gzip", "compress", "x-gzip"])
def test_other_content_encodings_are_415(client, acme, encoding):
    response = _post_raw(client, acme, gzip.compress(BATCH), HTTP_CONTENT_ENCODING=encoding)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("length", "status", "code"),
    [
        (str(50 * 1024 * 1024), 413, "payload_too_large"),  # refused before reading
        ("abc", 400, "invalid_json"),  # Django reads nothing
        ("-5", 400, "invalid_json"),
    ],
)
def test_a_lying_content_length_is_a_documented_error(client, acme, length, status, code):
    response = client.generic(
        "POST",
        "/v1/events",
        BATCH,
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=length,
        HTTP_X_PG_API_KEY=acme.ingest_key,
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    "body", [b"1", b"true", b"null", b'{"events": "x"}', b'{"events": 1}', b'{"events": true}']
)
def test_wrong_type_bodies_are_400_invalid_body(client, acme, body):
    response = post(client, acme.ingest_key, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_body"


def test_an_event_nested_past_the_decoder_depth_fails_the_batch_as_invalid_json(client, acme):
    fine = json.dumps(event(event_id="fine"))
    deep = json.dumps(event(event_id="deep"))[:-1] + ', "metadata": ' + '{"a": [' * 1000
    body = '{"events": [' + fine + ", " + deep + "1" + "]}" * 1000 + "}]}"
    response = post(client, acme.ingest_key, body.encode())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert stored(acme.org.pk) == []


# --- CORS -------------------------------------------------------------------------------------


def _allow(tenant, *origins: str) -> None:
    with transaction.atomic(), org_context(tenant.org.pk):
        Project.objects.filter(pk=tenant.project.pk).update(allowed_origins=list(origins))
    selectors._project_cache.clear()  # the per-process copy is up to 5 s old by design


@pytest.mark.parametrize(
    "origin",
    [
        "null",  # sandboxed iframes, file:// pages
        "https://shop.acme.test.evil.example",
        "https://evil.example/https://shop.acme.test",
        "https://shop.acme.test\r\nX-Evil: 1",
        "https://shop.acme.test ",
        "HTTPS://SHOP.ACME.TEST",
        "https://globex.test",  # allowed for globex, not for acme
    ],
)
def test_an_origin_the_project_does_not_list_gets_no_cors_headers(client, acme, globex, origin):
    _allow(acme, "https://shop.acme.test")
    _allow(globex, "https://globex.test")
    response = post(client, acme.ingest_key, {"events": [event()]}, HTTP_ORIGIN=origin)
    assert response.status_code == 202, "the key, not the origin, authenticates"
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Credentials" not in response
    assert "X-Evil" not in response


@pytest.mark.parametrize(
    "origin",
    ["https://a.example\r\nX-Evil: 1", "https://a.example\nX-Evil: 1", "https://é.example"],
)
def test_a_preflight_never_reflects_a_malformed_origin(client, db, origin):
    response = client.options(
        "/v1/events", HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response and "X-Evil" not in response


def test_a_listed_origin_is_reflected_exactly_never_as_a_wildcard(client, acme):
    _allow(acme, "https://shop.acme.test")
    response = post(
        client, acme.ingest_key, {"events": [event()]}, HTTP_ORIGIN="https://shop.acme.test"
    )
    assert response["Access-Control-Allow-Origin"] == "https://shop.acme.test"
    assert "origin" in response["Vary"].lower()
    _allow(acme)  # empty list: any well-formed origin, still echoed rather than "*"
    anyone = post(client, acme.ingest_key, {"events": [event()]}, HTTP_ORIGIN="null")
    assert anyone["Access-Control-Allow-Origin"] == "null"


def test_graphql_never_answers_cors(client, acme):
    preflight = client.options(
        "/graphql", HTTP_ORIGIN="https://a.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert preflight.status_code == 405
    assert preflight.json()["error"]["code"] == "method_not_allowed"
    answer = gql(client, PROJECTS, key=acme.secret_key, HTTP_ORIGIN="https://a.example")
    assert answer.status_code == 200
    for response in (preflight, answer):
        assert "Access-Control-Allow-Origin" not in response
