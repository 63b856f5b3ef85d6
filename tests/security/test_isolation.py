"""acme never sees globex: by project id, global node id, cursor, filter and nested field.

Every query and mutation is run by acme (secret key, and a member) against globex's
project and objects; each answer must equal the answer for an object that does not exist.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.db import transaction
from graphql_relay import to_global_id

from journeys.models import Journey
from orgs import services
from productgraph.tenancy.context import org_context
from sessions.models import Session
from tests.graphql_api.helpers import data, error_codes, fold, gql, member, seed_checkout, visit

QUERIES = {
    "project": "query($p: String!) { project(publicId: $p) { publicId } }",
    "events": """query($p: String!) { events(projectId: $p) {
        nodes { eventId } pageInfo { hasNextPage endCursor } } }""",
    "sessions": """query($p: String!) { sessions(projectId: $p) {
        nodes { sessionId } pageInfo { hasNextPage endCursor } } }""",
    "session": """query($p: String!) { session(projectId: $p, sessionId: "converts") {
        sessionId events { nodes { eventId } } journeys { status } } }""",
    "journeys": "query($p: String!) { journeys(projectId: $p) { key } }",
    "journey": 'query($p: String!) { journey(projectId: $p, key: "checkout") { key } }',
    "funnel": """query($p: String!) { funnel(projectId: $p, from: "2026-01-01T00:00:00Z",
        to: "2026-02-01T00:00:00Z", steps: [[{field: "page.path", op: "eq", value: "/cart"}],
        [{field: "page.path", op: "eq", value: "/pay"}]]) { overall { steps { count } } } }""",
    "eventCounts": """query($p: String!) { eventCounts(projectId: $p, interval: DAY,
        from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { total } }""",
}
MUTATIONS = {
    "createJourney": """mutation($p: String!) { createJourney(input: {projectId: $p,
        key: "new", name: "New", steps: [{id: "a", match: [{field: "page.path", op: "eq",
        value: "/a"}]}]}) { journey { key } } }""",
    "updateJourney": """mutation($p: String!) { updateJourney(input: {projectId: $p,
        key: "checkout", name: "Renamed"}) { journey { key } } }""",
    "deactivateJourney": """mutation($p: String!) { deactivateJourney(projectId: $p,
        key: "checkout") { journey { key } } }""",
}


@pytest.fixture
def two_orgs(client, acme, globex):
    seed_checkout(client, acme)
    seed_checkout(client, globex, prefix="g-")
    # globex also has a session named like acme's, to catch a lookup by name alone.
    visit(client, globex, "converts", "/cart", "/pay", hour=13)
    fold(globex, "converts")
    return acme, globex


@pytest.fixture(params=["key", "member"])
def acme_auth(request, client, two_orgs):
    acme, _ = two_orgs
    if request.param == "key":
        return {"key": acme.secret_key}
    client.force_login(member(acme, "ann", "admin"))
    return {"org": "acme"}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_query_answers_for_globex_as_for_a_missing_project(client, acme_auth, name):
    query = QUERIES[name]
    foreign = gql(client, query, {"p": "proj_globex"}, **acme_auth)
    missing = gql(client, query, {"p": "proj_missing"}, **acme_auth)
    assert foreign.status_code == missing.status_code == 200
    assert foreign.json() == missing.json()
    own = data(client, query, {"p": "proj_acme"}, **acme_auth)
    assert own != foreign.json()["data"], "the query must show something for acme's project"


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_every_mutation_fails_for_globex_as_for_a_missing_project(
    client, acme_auth, two_orgs, name
):
    _, globex = two_orgs
    mutation = MUTATIONS[name]
    foreign = gql(client, mutation, {"p": "proj_globex"}, **acme_auth).json()
    missing = gql(client, mutation, {"p": "proj_missing"}, **acme_auth).json()
    assert foreign == missing
    # A secret key only reads: refused before any project is looked up.
    assert error_codes(foreign) == ["forbidden" if "key" in acme_auth else "not_found"]
    with transaction.atomic(), org_context(globex.org.pk):
        journeys = list(Journey.objects.values_list("key", "name", "is_active"))
    assert journeys == [("checkout", "Checkout", True)], "globex's journeys are untouched"


def _globex_ids(globex) -> dict[str, str]:
    with transaction.atomic(), org_context(globex.org.pk):
        session = Session.objects.get(session_id="g-converts")
        journey = Journey.objects.get(key="checkout")
    return {
        "Project": to_global_id("Project", globex.project.pk),
        "Session": to_global_id("Session", session.pk),
        "Journey": to_global_id("Journey", journey.pk),
    }


def test_global_node_ids_of_globex_resolve_to_null(client, acme_auth, two_orgs):
    _, globex = two_orgs
    query = "query($id: ID!) { node(id: $id) { id __typename } }"
    for type_name, global_id in _globex_ids(globex).items():
        assert data(client, query, {"id": global_id}, **acme_auth) == {"node": None}, type_name
    for garbage in ["", "bm9wZQ", to_global_id("Event", 1), to_global_id("Query", 1)]:
        assert data(client, query, {"id": garbage}, **acme_auth) == {"node": None}


def test_global_node_ids_of_acme_resolve(client, acme_auth):
    ids = data(client, "{ projects { id } }", **acme_auth)["projects"]
    query = "query($id: ID!) { node(id: $id) { ... on Project { publicId } } }"
    node = data(client, query, {"id": ids[0]["id"]}, **acme_auth)
    assert node == {"node": {"publicId": "proj_acme"}}


def test_a_cursor_from_globex_only_positions_within_acme(client, two_orgs):
    acme, globex = two_orgs
    query = """query($p: String!, $after: String) { events(projectId: $p, first: 2,
        after: $after) { nodes { sessionId } pageInfo { endCursor } } }"""
    globex_cursor = data(client, query, {"p": "proj_globex"}, key=globex.secret_key)["events"][
        "pageInfo"
    ]["endCursor"]
    page = data(client, query, {"p": "proj_acme", "after": globex_cursor}, key=acme.secret_key)
    sessions = {node["sessionId"] for node in page["events"]["nodes"]}
    assert sessions and not any(s.startswith("g-") for s in sessions)


def test_filters_naming_globex_sessions_find_nothing(client, two_orgs):
    acme, _ = two_orgs
    query = """{ events(projectId: "proj_acme", filter: {sessionId: "g-converts"}) {
        nodes { eventId } } }"""
    assert data(client, query, key=acme.secret_key) == {"events": {"nodes": []}}


def test_nested_fields_show_only_acme_rows(client, two_orgs):
    acme, _ = two_orgs
    query = """{ session(projectId: "proj_acme", sessionId: "converts") {
        project { publicId } events { nodes { pagePath } } journeys { journey { project {
        publicId } } } } }"""
    session = data(client, query, key=acme.secret_key)["session"]
    assert session["project"] == {"publicId": "proj_acme"}
    assert [n["pagePath"] for n in session["events"]["nodes"]] == ["/home", "/cart", "/pay"]
    assert session["journeys"] == [{"journey": {"project": {"publicId": "proj_acme"}}}]


def test_a_secret_key_sees_only_its_own_project_of_the_org(client, acme):
    with transaction.atomic():
        other, _ = services.project_create(org=acme.org, name="Other", public_id="proj_other")
        ingest = services.api_key_issue(project=other, kind="ingest", name="t").key
    seed_checkout(client, replace(acme, project=other, ingest_key=ingest), prefix="o-")
    query = """query($p: String!) { project(publicId: $p) { publicId }
        sessions(projectId: $p) { nodes { sessionId } } }"""
    assert data(client, query, {"p": "proj_other"}, key=acme.secret_key) == {
        "project": None,
        "sessions": {"nodes": []},
    }
    client.force_login(member(acme, "ann", "viewer"))
    seen = data(client, query, {"p": "proj_other"}, org="acme")
    assert seen["project"] == {"publicId": "proj_other"} and len(seen["sessions"]["nodes"]) == 3
