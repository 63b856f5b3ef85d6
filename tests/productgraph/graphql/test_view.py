"""The /graphql view (productgraph/graphql/view.py): CSRF for browser sessions,
GraphiQL and the login page, methods, bodies and malformed queries."""

from __future__ import annotations

import json

from django.test import Client

from tests.graphql_api.helpers import CREATE_JOURNEY, PROJECTS_QUERY, error_codes, gql, member


def test_a_session_request_needs_the_csrf_token(acme):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member(acme, "ann", "viewer"))
    refused = gql(browser, PROJECTS_QUERY, org="acme")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert "CSRF" in refused.json()["error"]["message"]
    page = browser.get("/graphql", HTTP_ACCEPT="text/html")  # GraphiQL sets the cookie
    token = page.cookies["csrftoken"].value
    accepted = gql(browser, PROJECTS_QUERY, org="acme", HTTP_X_CSRFTOKEN=token)
    assert accepted.json()["data"] == {"projects": [{"publicId": "proj_acme"}]}


def test_graphiql_is_served_to_logged_in_browsers_only(client, acme):
    anonymous = client.get("/graphql", HTTP_ACCEPT="text/html")
    assert anonymous.status_code == 401
    client.force_login(member(acme, "ann", "viewer"))
    page = client.get("/graphql", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert b"graphiql" in page.content.lower()
    raw = client.get("/graphql", {"query": PROJECTS_QUERY, "raw": "1"}, HTTP_ACCEPT="text/html")
    assert raw.status_code == 405, "GET never executes a query"
    raw_in_body = client.generic(
        "GET",
        "/graphql",
        data=json.dumps({"raw": 1, "query": PROJECTS_QUERY}),
        content_type="application/json",
        HTTP_ACCEPT="text/html",
    )
    assert raw_in_body.status_code == 405, "nor with `raw` in its body"


def test_other_methods_are_405(client, acme):
    response = client.put("/graphql", HTTP_AUTHORIZATION=f"Bearer {acme.secret_key}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    by_key = client.get("/graphql", {"query": PROJECTS_QUERY}, HTTP_X_PG_API_KEY=acme.secret_key)
    assert by_key.status_code == 405, "an API client POSTs; GraphiQL is for a browser"


def test_a_body_that_is_not_utf8_is_400_not_500(client, acme):
    response = client.post(
        "/graphql",
        data=b"{ projects { name } } # caf\xe9",
        content_type="application/graphql",
        HTTP_AUTHORIZATION=f"Bearer {acme.secret_key}",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_malformed_bodies_and_queries_have_codes(client, acme):
    bad_json = client.post(
        "/graphql",
        data="{",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {acme.secret_key}",
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["code"] == "invalid_request"
    syntax = gql(client, "{ projects { ", key=acme.secret_key)
    assert syntax.status_code == 400
    assert error_codes(syntax.json()) == ["invalid_request"]
    unknown = gql(client, "{ nope }", key=acme.secret_key)
    assert error_codes(unknown.json()) == ["invalid_request"]


def test_a_member_who_is_not_staff_logs_in_at_login_and_gets_graphiql(acme):
    analyst = member(acme, "ana", "editor")
    assert not analyst.is_staff
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/login/?next=/graphql%3Forg%3Dacme")
    assert page.status_code == 200 and b'name="password"' in page.content
    token = page.cookies["csrftoken"].value
    wrong = browser.post(
        "/login/", {"username": "ana", "password": "nope", "csrfmiddlewaretoken": token}
    )
    assert wrong.status_code == 200 and b"didn't match" in wrong.content
    logged_in = browser.post(
        "/login/",
        {
            "username": "ana",
            "password": "pw",
            "next": "/graphql?org=acme",
            "csrfmiddlewaretoken": token,
        },
    )
    assert logged_in.status_code == 302 and logged_in["Location"] == "/graphql?org=acme"
    graphiql = browser.get("/graphql?org=acme", HTTP_ACCEPT="text/html")
    assert graphiql.status_code == 200 and b"graphiql" in graphiql.content.lower()
    token = graphiql.cookies.get("csrftoken", page.cookies["csrftoken"]).value
    created = gql(browser, CREATE_JOURNEY, {"p": "proj_acme"}, org="acme", HTTP_X_CSRFTOKEN=token)
    assert created.json()["data"]["createJourney"]["journey"]["key"] == "signup"
    assert browser.post("/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert gql(browser, PROJECTS_QUERY, org="acme").status_code == 401
