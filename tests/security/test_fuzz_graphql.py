"""Fuzzing `/graphql`: garbage, generated, wrong-typed, huge and deep requests.

Whatever arrives, the answer is never a 5xx, every error carries one of the `extensions.code`
values docs/graphql.md lists, and none is `internal_error` (that code means a bug). Operations
are generated from the committed SDL by hypothesis-graphql (schemathesis' GraphQL engine),
valid ones and invalid ones (wrong argument types), with project ids pointed at acme's
seeded project half of the time so that resolvers run on real rows.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import graphql
import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

from tests.graphql_api.helpers import data, error_codes, gql, member, seed_checkout

SDL = Path(django_settings.BASE_DIR, "graphql_api", "schema.graphql").read_text()
# docs/graphql.md, "Errors" (internal_error and unavailable excluded: a bug, an outage).
DOCUMENTED_CODES = {
    "not_authenticated",
    "invalid_api_key",
    "wrong_key_kind",
    "forbidden",
    "org_required",
    "method_not_allowed",
    "invalid_request",
    "query_too_deep",
    "query_too_large",
    "page_size_too_large",
    "invalid_argument",
    "invalid_cursor",
    "invalid_definition",
    "not_found",
    "journey_exists",
    "query_timeout",
}
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_answered(response, *, status: set[int] | None = None) -> dict:
    """No 5xx; JSON; every error has a documented code; the envelope on refusals."""
    assert response.status_code < 500, response.content[:500]
    if status is not None:
        assert response.status_code in status, response.content[:500]
    body = response.json()
    codes = error_codes(body)
    assert set(codes) <= DOCUMENTED_CODES, body
    if "error" in body:  # refused before execution: the REST envelope as well
        assert response.status_code >= 400
        assert body["error"]["code"] in DOCUMENTED_CODES and body["error"]["message"]
    if response.status_code >= 400:
        assert codes, body
    return body


# --- generated operations ------------------------------------------------------------------

_NAME = st.from_regex(r"\A[a-z][a-zA-Z_]{0,6}\Z")
_CONDITION_LIKE = st.fixed_dictionaries(
    {
        "field": st.sampled_from(["page.path", "event.type", "api.status_code", "plan"]),
        "op": st.sampled_from(["eq", "neq", "in", "prefix", "regex", "gt", "exists", "like"]),
        "value": st.sampled_from(["/cart", "/pay", 200, 2.5, True, ["/cart", 1], "(", None]),
    }
)
_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**31), 2**31)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | _CONDITION_LIKE,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_NAME, children, max_size=3),
    max_leaves=8,
)


def _literal(value: Any) -> graphql.ValueNode:
    """A GraphQL literal for a JSON value (the JSON scalar takes objects and lists)."""
    if value is None:
        return nodes.Null
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([_literal(item) for item in value])
    return nodes.Object(
        [
            graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=_literal(item))
            for key, item in value.items()
        ]
    )


_DATETIMES = st.sampled_from(
    [
        "2026-01-15T10:00:00Z",
        "2026-01-01T00:00:00+00:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ]
) | st.text(max_size=25)
CUSTOM_SCALARS = {
    "DateTime": _DATETIMES.map(nodes.String),
    "JSON": _JSON_VALUES.map(_literal),
    "BigInt": st.integers(-(2**70), 2**70).map(nodes.Int),
}
_PROJECT_ARGUMENT = re.compile(r'\b(projectId|publicId): "(?:[^"\\]|\\.)*"')


@st.composite
def operations(draw, mode: Mode) -> str:
    """A generated query or mutation, aimed at acme's project half of the time."""
    strategy = queries(SDL, custom_scalars=CUSTOM_SCALARS, mode=mode) | mutations(
        SDL, custom_scalars=CUSTOM_SCALARS, mode=mode
    )
    operation = draw(strategy)
    if draw(st.booleans()):
        operation = _PROJECT_ARGUMENT.sub(r'\1: "proj_acme"', operation)
    return operation


@pytest.fixture
def seeded(client, acme):
    seed_checkout(client, acme)
    return acme


@FUZZ
@given(operation=operations(Mode.POSITIVE))
def test_generated_operations_are_answered_with_documented_codes(client, seeded, operation):
    assert_answered(gql(client, operation, key=seeded.secret_key), status={200, 400})


@FUZZ
@given(operation=operations(Mode.NEGATIVE))
def test_generated_invalid_operations_are_400_invalid_request(client, seeded, operation):
    response = gql(client, operation, key=seeded.secret_key)
    body = assert_answered(response, status={400})
    assert set(error_codes(body)) <= {"invalid_request", "query_too_deep"}, body


@FUZZ
@given(query=st.text(max_size=200) | st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")))
def test_garbage_queries_are_answered_with_documented_codes(client, acme, query):
    assert_answered(gql(client, query, key=acme.secret_key), status={200, 400})


# Every root field that takes variables, with the variables' declared types.
TYPED_QUERIES = {
    "project": "query($p: String!) { project(publicId: $p) { publicId } }",
    "events": """query($p: String!, $f: EventFilter, $n: Int, $a: String) {
        events(projectId: $p, filter: $f, first: $n, after: $a) { nodes { eventId } } }""",
    "sessions": """query($p: String!, $f: SessionFilter, $n: Int, $a: String) {
        sessions(projectId: $p, filter: $f, first: $n, after: $a) { nodes { sessionId } } }""",
    "session": """query($p: String!, $s: String!, $n: Int, $a: String) {
        session(projectId: $p, sessionId: $s) { events(first: $n, after: $a) {
        nodes { eventId } } } }""",
    "journey": "query($p: String!, $k: String!) { journey(projectId: $p, key: $k) { key } }",
    "funnel": """query($p: String!, $s: [JSON!]!, $from: DateTime!, $to: DateTime!, $w: Int,
        $b: String) { funnel(projectId: $p, steps: $s, from: $from, to: $to, windowSeconds: $w,
        breakdown: $b) { overall { steps { count } } } }""",
    "eventCounts": """query($p: String!, $from: DateTime!, $to: DateTime!, $i: Interval!,
        $g: EventGroupField, $m: Int) { eventCounts(projectId: $p, from: $from, to: $to,
        interval: $i, groupBy: $g, maxGroups: $m) { total } }""",
    "node": "query($id: ID!) { node(id: $id) { id } }",
    "createJourney": """mutation($i: CreateJourneyInput!) { createJourney(input: $i) {
        journey { key } } }""",
}
WELL_TYPED = {
    "p": st.sampled_from(["proj_acme", "proj_globex", "", "x" * 300]),
    "s": st.sampled_from(["converts", "never"]),
    "k": st.sampled_from(["checkout", "nope"]),
    "n": st.integers(-5, 600),
    "from": _DATETIMES,
    "to": _DATETIMES,
    "i": st.sampled_from(["HOUR", "DAY", "WEEK", "YEAR"]),
    "id": st.text(max_size=20),
}


@FUZZ
@given(
    name=st.sampled_from(sorted(TYPED_QUERIES)),
    variables=st.dictionaries(
        st.sampled_from(
            ["p", "f", "n", "a", "s", "k", "from", "to", "w", "b", "i", "g", "m", "id"]
        ),
        _JSON_VALUES,
        max_size=6,
    ),
    typed=st.fixed_dictionaries({}, optional=WELL_TYPED),
)
def test_wrong_typed_variables_are_answered_with_documented_codes(
    client, seeded, name, variables, typed
):
    response = gql(client, TYPED_QUERIES[name], {**variables, **typed}, key=seeded.secret_key)
    assert_answered(response, status={200, 400})


# --- huge and deep requests ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code"),
    [
        # graphql-core stops parsing, no RecursionError
        ("{" + "a{" * 5000 + "b" + "}" * 5001, "invalid_request"),
        (
            '{ funnel(projectId: "p", steps: ' + "[" * 5000 + "]" * 5000 + ") { __typename } }",
            "invalid_request",
        ),
        # over Django's 2.5 MB
        ("{ projects { publicId } }" + " " * (3 * 1024 * 1024), "invalid_request"),
        # 25,000 tokens, over the document's 15,000
        (
            "query(" + ", ".join(f"$v{i}: Int" for i in range(5000)) + ") { projects { name } }",
            "query_too_large",
        ),
    ],
    ids=["nested-selections", "nested-list-literal", "over-2.5-MB", "5000-variables"],
)
def test_huge_and_deep_queries_are_400(client, acme, query, code):
    response = gql(client, query, key=acme.secret_key)
    body = assert_answered(response, status={400})
    assert set(error_codes(body)) == {code}, body


def test_a_body_nested_too_deeply_is_400_invalid_request(client, acme):
    deep = '{"query": "{ projects { name } }", "variables": {"a": ' + "[" * 100_000
    response = client.post(
        "/graphql",
        data=deep + "]" * 100_000 + "}}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {acme.secret_key}",
    )
    assert_answered(response, status={400})
    assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    "payload",
    [
        {"query": "{ projects { name } }", "variables": [1]},
        {"query": "{ projects { name } }", "variables": 7},
        {"query": 5},
        {"query": ["{ projects { name } }"]},
        {"query": "{ projects { name } }", "operationName": {"a": 1}},
        [{"query": "{ projects { name } }"}],
        "{ projects { name } }",
    ],
    ids=[
        "variables-list",
        "variables-number",
        "query-number",
        "query-list",
        "opname-object",
        "batch",
        "bare-string",
    ],
)
def test_parameters_of_the_wrong_json_type_are_400_invalid_request(client, acme, payload):
    response = client.post(
        "/graphql",
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {acme.secret_key}",
    )
    assert_answered(response, status={400})
    assert response.json()["error"]["code"] == "invalid_request"


# --- text PostgreSQL cannot hold -----------------------------------------------------------

UNSTORABLE = ["a\x00b", "\x00", "a\ud800", "\udfff"]


def _used(query: str, variables: dict[str, Any]) -> dict[str, Any]:
    names = set(re.findall(r"\$(\w+)", query))
    return {name: value for name, value in variables.items() if name in names}


def test_unstorable_text_in_variables_is_400_invalid_request(client, seeded):
    for text in UNSTORABLE:
        for name in ["project", "events", "sessions", "session", "journey", "funnel"]:
            variables: dict[str, Any] = {
                "p": text if name == "project" else "proj_acme",
                "s": text,
                "k": text,
                "f": {"userId": text} if name == "sessions" else {"pagePath": text},
                "from": "2026-01-01T00:00:00Z",
                "to": "2026-02-01T00:00:00Z",
            }
            if name == "funnel":
                step = [{"field": "page.path", "op": "eq", "value": text}]
                variables["s"] = [step, [{"field": text, "op": "exists"}]]
            query = TYPED_QUERIES[name]
            response = gql(client, query, _used(query, variables), key=seeded.secret_key)
            assert_answered(response, status={400})
            assert error_codes(response.json()) == ["invalid_request"], (name, text)


def test_unstorable_text_in_literals_is_400_invalid_request(client, seeded):
    for literal in ['"a\\u0000"', '"\\u0000"', '"\\uD800"', '"""a\x00"""']:
        query = f'{{ session(projectId: "proj_acme", sessionId: {literal}) {{ sessionId }} }}'
        response = gql(client, query, key=seeded.secret_key)
        assert_answered(response, status={400})
        assert error_codes(response.json()) == ["invalid_request"], literal


def test_unstorable_text_never_reaches_a_journey_definition(client, seeded):
    mutation = """mutation($s: JSON!) { createJourney(input: {projectId: "proj_acme",
        key: "nul", name: "Nul", steps: $s}) { journey { key } } }"""
    steps = [{"id": "a", "match": [{"field": "page.path", "op": "eq", "value": "/\x00"}]}]
    response = gql(client, mutation, {"s": steps}, key=seeded.secret_key)
    assert_answered(response, status={400})
    journey = '{ journey(projectId: "proj_acme", key: "nul") { key } }'
    assert data(client, journey, key=seeded.secret_key) == {"journey": None}


def test_an_org_slug_that_is_no_slug_is_403_forbidden(client, acme):
    client.force_login(member(acme, "ann", "admin"))
    for org in ["acme\x00", "acme%00", "é", "a" * 5000, "ac me"]:
        response = gql(client, "{ projects { publicId } }", org=org)
        assert_answered(response, status={403})
        assert response.json()["error"]["code"] == "forbidden", org
    by_query = client.post(
        "/graphql?org=acme%00",
        data=json.dumps({"query": "{ projects { publicId } }"}),
        content_type="application/json",
    )
    assert_answered(by_query, status={403})


# --- tampered cursors and ids ----------------------------------------------------------------


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


TAMPERED_CURSORS = [
    _cursor(b"[" * 100_000),  # json.loads: RecursionError
    _cursor(b'["events", "2026-01-15T10:00:00+00:00", 1]') + "x" * 2000,  # oversized
    _cursor(b'["events", "2026-01-15T10:00:00", 1]'),  # naive timestamp
    _cursor(b'["events", "2026-01-15T10:00:00+00:00", "1"]'),  # id as text
    _cursor(b'["events", "2026-01-15T10:00:00+00:00", true]'),  # id as a boolean
    _cursor(b'["events", "2026-01-15T10:00:00+00:00"]'),  # too short
    _cursor(b'{"events": 1}'),
    _cursor(b"\xff\xfe"),
    _cursor(b"null"),
    _cursor(b"7"),
    "!!!not base64!!!",
    "",
]


def test_tampered_cursors_are_invalid_cursor(client, seeded):
    for name in ["events", "sessions", "session"]:
        for cursor in TAMPERED_CURSORS:
            variables = {"p": "proj_acme", "s": "converts", "a": cursor, "n": 2}
            query = TYPED_QUERIES[name]
            response = gql(client, query, _used(query, variables), key=seeded.secret_key)
            body = assert_answered(response, status={200})
            assert error_codes(body) == ["invalid_cursor"], (name, cursor[:60], body)


def test_malformed_global_ids_resolve_to_null(client, seeded):
    for raw_id in [
        *["Project:²", "Session:²", "Journey:²", "Project:٣", "Session:" + "9" * 40],
        *["Journey:-1", "Project: 1", "Session:1.0", "Journey:0x1"],
    ]:
        global_id = base64.b64encode(raw_id.encode()).decode()
        response = gql(client, TYPED_QUERIES["node"], {"id": global_id}, key=seeded.secret_key)
        assert assert_answered(response, status={200}) == {"data": {"node": None}}, raw_id
