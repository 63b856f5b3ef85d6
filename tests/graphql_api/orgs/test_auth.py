"""/graphql transport: keys and logins, org choice, CSRF, GraphiQL, roles, limits, errors."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.graphql_api.helpers import data, error_codes, gql, member

PROJECTS = "{ projects { publicId } }"
CREATE = """
mutation($p: String!) {
  createJourney(input: {projectId: $p, key: "signup", name: "Signup",
                        steps: [{id: "s", match: [{field: "page.path", op: "eq", value: "/s"}]}]}) {
    journey { key isActive }
  }
}"""


def test_a_secret_key_reads_its_project(client, acme, globex):
    assert data(client, PROJECTS, key=acme.secret_key) == {"projects": [{"publicId": "proj_acme"}]}


def test_the_x_pg_api_key_header_works_too(client, acme):
    response = gql(client, PROJECTS, HTTP_X_PG_API_KEY=acme.secret_key)
    assert response.json()["data"]["projects"] == [{"publicId": "proj_acme"}]


def test_an_ingest_key_is_refused_with_a_clear_error(client, acme):
    response = gql(client, PROJECTS, key=acme.ingest_key)
    assert response.status_code == 403
    body = response.json()
    assert body["error"]["code"] == "wrong_key_kind"
    assert "ingest key (pk_)" in body["error"]["message"]
    assert error_codes(body) == ["wrong_key_kind"]
    assert "data" not in body


def test_an_unknown_key_is_401(client, db):
    response = gql(client, PROJECTS, key="sk_" + "a" * 40)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_no_credentials_is_401(client, db):
    response = gql(client, PROJECTS)
    assert response.status_code == 401
    assert error_codes(response.json()) == ["not_authenticated"]


def test_a_member_reads_the_org_chosen_by_header_or_query_string(client, acme):
    client.force_login(member(acme, "ann", "viewer"))
    assert data(client, PROJECTS, org="acme") == {"projects": [{"publicId": "proj_acme"}]}
    response = client.post(
        "/graphql?org=acme", data=json.dumps({"query": PROJECTS}), content_type="application/json"
    )
    assert response.json()["data"] == {"projects": [{"publicId": "proj_acme"}]}


def test_a_user_gets_nothing_from_an_org_without_membership(client, acme, globex):
    client.force_login(member(acme, "ann", "admin"))
    foreign = gql(client, PROJECTS, org="globex")
    unknown = gql(client, PROJECTS, org="no-such-org")
    assert foreign.status_code == unknown.status_code == 403
    assert foreign.json() == unknown.json()
    assert foreign.json()["error"]["code"] == "forbidden"


def test_a_member_must_choose_an_org_except_to_introspect(client, acme):
    client.force_login(member(acme, "ann", "viewer"))
    response = gql(client, PROJECTS)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "org_required"
    schema = data(client, "{ __schema { queryType { name } } }")
    assert schema == {"__schema": {"queryType": {"name": "Query"}}}


def test_a_viewer_and_a_secret_key_cannot_mutate_but_an_editor_can(client, acme):
    client.force_login(member(acme, "vera", "viewer"))
    response = gql(client, CREATE, {"p": "proj_acme"}, org="acme")
    assert error_codes(response.json()) == ["forbidden"]
    assert response.json()["data"] == {"createJourney": None}
    by_key = gql(client, CREATE, {"p": "proj_acme"}, key=acme.secret_key).json()
    assert error_codes(by_key) == ["forbidden"]  # tenancy.md: a secret key reads
    assert "secret key may read" in by_key["errors"][0]["message"]
    client.force_login(member(acme, "ed", "editor"))
    created = data(client, CREATE, {"p": "proj_acme"}, org="acme")
    assert created["createJourney"]["journey"] == {"key": "signup", "isActive": True}
    again = gql(client, CREATE, {"p": "proj_acme"}, org="acme")
    assert error_codes(again.json()) == ["journey_exists"]


def test_a_session_request_needs_the_csrf_token(acme):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member(acme, "ann", "viewer"))
    refused = gql(browser, PROJECTS, org="acme")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert "CSRF" in refused.json()["error"]["message"]
    page = browser.get("/graphql", HTTP_ACCEPT="text/html")  # GraphiQL sets the cookie
    token = page.cookies["csrftoken"].value
    accepted = gql(browser, PROJECTS, org="acme", HTTP_X_CSRFTOKEN=token)
    assert accepted.json()["data"] == {"projects": [{"publicId": "proj_acme"}]}


def test_a_key_request_needs_no_csrf_token_and_its_cookies_grant_nothing(acme, globex):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member(globex, "gus", "admin"))
    response = gql(browser, PROJECTS, key=acme.secret_key, org="globex")
    assert response.json()["data"] == {"projects": [{"publicId": "proj_acme"}]}


def test_graphiql_is_served_to_logged_in_browsers_only(client, acme):
    anonymous = client.get("/graphql", HTTP_ACCEPT="text/html")
    assert anonymous.status_code == 401
    client.force_login(member(acme, "ann", "viewer"))
    page = client.get("/graphql", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert b"graphiql" in page.content.lower()
    raw = client.get("/graphql", {"query": PROJECTS, "raw": "1"}, HTTP_ACCEPT="text/html")
    assert raw.status_code == 405, "GET never executes a query"
    raw_in_body = client.generic(
        "GET",
        "/graphql",
        data=json.dumps({"raw": 1, "query": PROJECTS}),
        content_type="application/json",
        HTTP_ACCEPT="text/html",
    )
    assert raw_in_body.status_code == 405, "nor with `raw` in its body"


def test_other_methods_are_405(client, acme):
    response = client.put("/graphql", HTTP_AUTHORIZATION=f"Bearer {acme.secret_key}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    by_key = client.get("/graphql", {"query": PROJECTS}, HTTP_X_PG_API_KEY=acme.secret_key)
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


def _nested(depth: int) -> str:
    # `sessions` is level 1; each further level nests one field inside the previous one.
    names = ['sessions(projectId: "proj_acme")', "edges", "node", "journeys", "journey"]
    names += [f"f{level}" for level in range(len(names), depth)]
    return "{ " + " { ".join(names) + " }" * (depth - 1) + " }"


def test_queries_deeper_than_ten_levels_are_refused(client, acme):
    response = gql(client, _nested(11), key=acme.secret_key)
    assert response.status_code == 400
    assert "query_too_deep" in error_codes(response.json())
    shallow = gql(client, _nested(10), key=acme.secret_key)
    assert "query_too_deep" not in error_codes(shallow.json())


def test_too_many_fields_or_analytic_fields_are_refused(client, acme):
    many = "{ " + " ".join(f"p{i}: projects {{ publicId }}" for i in range(500)) + " }"
    assert gql(client, many, key=acme.secret_key).status_code == 200  # 1,000 fields
    more = many[:-1] + "extra: projects { publicId } }"
    response = gql(client, more, key=acme.secret_key)
    assert response.status_code == 400
    assert error_codes(response.json()) == ["query_too_complex"]
    fragment = "fragment F on Project { publicId name }"  # 2 fields per spread, 1 per alias
    spread = "{ " + " ".join(f"p{i}: projects {{ ...F }}" for i in range(400)) + " } " + fragment
    assert error_codes(gql(client, spread, key=acme.secret_key).json()) == ["query_too_complex"]
    counts = (
        'eventCounts(projectId: "proj_acme", interval: DAY, from: "2026-01-15T00:00:00Z",'
        ' to: "2026-01-16T00:00:00Z") { total }'
    )
    six = "{ " + " ".join(f"c{i}: {counts}" for i in range(6)) + " }"
    assert error_codes(gql(client, six, key=acme.secret_key).json()) == ["query_too_complex"]
    five = "{ " + " ".join(f"c{i}: {counts}" for i in range(5)) + " }"
    assert "query_too_complex" not in error_codes(gql(client, five, key=acme.secret_key).json())


@pytest.mark.parametrize(
    "query",
    [
        "{ ...Loop } fragment Loop on Query { ...Loop }",
        "{ ...Missing }",
    ],
)
def test_fragment_cycles_and_unknown_fragments_are_validation_errors(client, acme, query):
    response = gql(client, query, key=acme.secret_key)
    assert response.status_code == 400
    assert set(error_codes(response.json())) == {"invalid_request"}


@pytest.mark.parametrize(("first", "code"), [(501, "page_size_too_large"), (0, "invalid_argument")])
def test_page_sizes_above_500_are_an_error_not_clamped(client, acme, first, code):
    query = 'query($n: Int) { events(projectId: "proj_acme", first: $n) { nodes { eventId } } }'
    body = gql(client, query, {"n": first}, key=acme.secret_key).json()
    assert error_codes(body) == [code]
    assert body["errors"][0]["path"] == ["events"]
    assert data(client, query, {"n": 500}, key=acme.secret_key)["events"] == {"nodes": []}


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
    created = gql(browser, CREATE, {"p": "proj_acme"}, org="acme", HTTP_X_CSRFTOKEN=token)
    assert created.json()["data"]["createJourney"]["journey"]["key"] == "signup"
    assert browser.post("/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert gql(browser, PROJECTS, org="acme").status_code == 401
