"""Who a /graphql request acts as (graphql_api/orgs/auth.py): a secret key, read only,
or a member of the org chosen by header or query string, with the member's role; an
ingest key, an unknown key and no credentials are refused."""

from __future__ import annotations

import json

from django.test import Client

from tests.graphql_api.helpers import CREATE_JOURNEY, PROJECTS_QUERY, data, error_codes, gql, member


def test_a_secret_key_reads_its_project(client, acme, globex):
    assert data(client, PROJECTS_QUERY, key=acme.secret_key) == {
        "projects": [{"publicId": "proj_acme"}]
    }


def test_the_x_pg_api_key_header_works_too(client, acme):
    response = gql(client, PROJECTS_QUERY, HTTP_X_PG_API_KEY=acme.secret_key)
    assert response.json()["data"]["projects"] == [{"publicId": "proj_acme"}]


def test_an_ingest_key_is_refused_with_a_clear_error(client, acme):
    response = gql(client, PROJECTS_QUERY, key=acme.ingest_key)
    assert response.status_code == 403
    body = response.json()
    assert body["error"]["code"] == "wrong_key_kind"
    assert "ingest key (pk_)" in body["error"]["message"]
    assert error_codes(body) == ["wrong_key_kind"]
    assert "data" not in body


def test_an_unknown_key_is_401(client, db):
    response = gql(client, PROJECTS_QUERY, key="sk_" + "a" * 40)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_no_credentials_is_401(client, db):
    response = gql(client, PROJECTS_QUERY)
    assert response.status_code == 401
    assert error_codes(response.json()) == ["not_authenticated"]


def test_a_member_reads_the_org_chosen_by_header_or_query_string(client, acme):
    client.force_login(member(acme, "ann", "viewer"))
    assert data(client, PROJECTS_QUERY, org="acme") == {"projects": [{"publicId": "proj_acme"}]}
    response = client.post(
        "/graphql?org=acme",
        data=json.dumps({"query": PROJECTS_QUERY}),
        content_type="application/json",
    )
    assert response.json()["data"] == {"projects": [{"publicId": "proj_acme"}]}


def test_a_user_gets_nothing_from_an_org_without_membership(client, acme, globex):
    client.force_login(member(acme, "ann", "admin"))
    foreign = gql(client, PROJECTS_QUERY, org="globex")
    unknown = gql(client, PROJECTS_QUERY, org="no-such-org")
    assert foreign.status_code == unknown.status_code == 403
    assert foreign.json() == unknown.json()
    assert foreign.json()["error"]["code"] == "forbidden"


def test_a_member_must_choose_an_org_except_to_introspect(client, acme):
    client.force_login(member(acme, "ann", "viewer"))
    response = gql(client, PROJECTS_QUERY)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "org_required"
    schema = data(client, "{ __schema { queryType { name } } }")
    assert schema == {"__schema": {"queryType": {"name": "Query"}}}


def test_a_viewer_and_a_secret_key_cannot_mutate_but_an_editor_can(client, acme):
    client.force_login(member(acme, "vera", "viewer"))
    response = gql(client, CREATE_JOURNEY, {"p": "proj_acme"}, org="acme")
    assert error_codes(response.json()) == ["forbidden"]
    assert response.json()["data"] == {"createJourney": None}
    by_key = gql(client, CREATE_JOURNEY, {"p": "proj_acme"}, key=acme.secret_key).json()
    assert error_codes(by_key) == ["forbidden"]  # tenancy.md: a secret key reads
    assert "secret key may read" in by_key["errors"][0]["message"]
    client.force_login(member(acme, "ed", "editor"))
    created = data(client, CREATE_JOURNEY, {"p": "proj_acme"}, org="acme")
    assert created["createJourney"]["journey"] == {"key": "signup", "isActive": True}
    again = gql(client, CREATE_JOURNEY, {"p": "proj_acme"}, org="acme")
    assert error_codes(again.json()) == ["journey_exists"]


def test_a_key_request_needs_no_csrf_token_and_its_cookies_grant_nothing(acme, globex):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member(globex, "gus", "admin"))
    response = gql(browser, PROJECTS_QUERY, key=acme.secret_key, org="globex")
    assert response.json()["data"] == {"projects": [{"publicId": "proj_acme"}]}
