"""acme (a secret key, and a member) against globex's rows through cursors and names.

tests/graphql/test_isolation.py already runs every query and mutation with globex's project
id, globex's global node ids, one globex `events` cursor and a globex session id as a filter;
tests/ingestion/test_api.py posts with acme's key and globex's `project_id`. Here: cursors
copied from every globex page (events, sessions, a session's events), cursors crafted to
point at globex's rows, and globex's session ids, journey keys and user ids named under
acme's own project.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.db import transaction

from ingestion.models import Event
from productgraph.tenancy.context import org_context
from tests.graphql_api.helpers import add_journey, data, error_codes, fold, gql, member, visit

EVENTS = """query($p: String!, $a: String) { events(projectId: $p, first: 2, after: $a) {
    nodes { sessionId eventId } pageInfo { endCursor } } }"""
SESSIONS = """query($p: String!, $a: String) { sessions(projectId: $p, first: 1, after: $a) {
    nodes { sessionId } pageInfo { endCursor } } }"""
SESSION_EVENTS = """query($p: String!, $s: String!, $a: String) { session(projectId: $p,
    sessionId: $s) { events(first: 1, after: $a) { nodes { eventId } pageInfo { endCursor } } } }"""


@pytest.fixture
def tenants(client, acme, globex):
    for tenant, prefix in ((acme, "a-"), (globex, "g-")):
        for hour, session in enumerate(["one", "two", "three"], start=9):
            visit(
                client,
                tenant,
                f"{prefix}{session}",
                "/cart",
                "/pay",
                hour=hour,
                user__id=prefix + "u",
            )
        fold(tenant, f"{prefix}one", f"{prefix}two", f"{prefix}three")
    add_journey(globex, "g-only")
    return acme, globex


@pytest.fixture(params=["key", "member"])
def acme_auth(request, client, tenants):
    acme, _ = tenants
    if request.param == "key":
        return {"key": acme.secret_key}
    client.force_login(member(acme, "ann", "viewer"))
    return {"org": "acme"}


def _ids(value) -> list[str]:
    """Every session or event id anywhere in an answer."""
    text = json.dumps(value)
    return [token for token in text.replace('"', " ").split() if token.startswith(("a-", "g-"))]


def test_cursors_copied_from_globex_pages_only_position_within_acme(client, tenants, acme_auth):
    _, globex = tenants
    copied = [
        (EVENTS, data(client, EVENTS, {"p": "proj_globex"}, key=globex.secret_key)["events"]),
        (SESSIONS, data(client, SESSIONS, {"p": "proj_globex"}, key=globex.secret_key)["sessions"]),
        (
            SESSION_EVENTS,
            data(client, SESSION_EVENTS, {"p": "proj_globex", "s": "g-one"}, key=globex.secret_key)[
                "session"
            ]["events"],
        ),
    ]
    for query, page in copied:
        cursor = page["pageInfo"]["endCursor"]
        assert cursor
        assert [i for i in _ids(page) if i.startswith("g-")], "globex sees its own rows"
        variables = {"p": "proj_acme", "s": "a-one", "a": cursor}
        answer = gql(client, query, variables, **acme_auth).json()
        assert "errors" not in answer, answer
        ids = _ids(answer["data"])
        assert not [i for i in ids if i.startswith("g-")], (query, answer)


def _cursor(*parts) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def test_cursors_crafted_at_globex_rows_only_position_within_acme(client, tenants, acme_auth):
    _, globex = tenants
    with transaction.atomic(), org_context(globex.org.pk):
        rows = list(Event.objects.order_by("timestamp", "id").values_list("timestamp", "id"))
    for timestamp, row_id in rows[:2]:
        for after in (
            _cursor("events", timestamp.isoformat(), row_id - 1),
            _cursor("sessions", timestamp.isoformat(), row_id + 1),
            _cursor("session-events", timestamp.isoformat(), None, row_id - 1),
        ):
            for query in (EVENTS, SESSIONS, SESSION_EVENTS):
                variables = {"p": "proj_acme", "s": "a-one", "a": after}
                body = gql(client, query, variables, **acme_auth).json()
                assert set(error_codes(body)) <= {"invalid_cursor"}, body
                assert not [i for i in _ids(body.get("data")) if i.startswith("g-")], body


@pytest.mark.parametrize(
    ("query", "empty"),
    [
        (
            '{ session(projectId: "proj_acme", sessionId: "g-one") { sessionId } }',
            {"session": None},
        ),
        ('{ journey(projectId: "proj_acme", key: "g-only") { key } }', {"journey": None}),
        (
            '{ sessions(projectId: "proj_acme", filter: {userId: "g-u"}) { nodes { sessionId } } }',
            {"sessions": {"nodes": []}},
        ),
        (
            '{ events(projectId: "proj_acme", filter: {userId: "g-u"}) { nodes { eventId } } }',
            {"events": {"nodes": []}},
        ),
    ],
)
def test_globex_names_under_acme_project_find_nothing(client, acme_auth, query, empty):
    assert data(client, query, **acme_auth) == empty
