"""The GraphQL edge's limits (productgraph/graphql/limits.py): the depth rule on a toy
schema and through /graphql, the field and analytic-field costs, fragment cycles, and
every statement's timeout."""

from __future__ import annotations

import graphene
import pytest
from django.db import connection, transaction
from graphql import parse, validate

from productgraph.graphql.errors import CodedGraphQLError
from productgraph.graphql.limits import QueryDepthLimit, statement_timeout
from tests.graphql_api.helpers import error_codes, gql


class Tree(graphene.ObjectType):
    leaf = graphene.String()
    child = graphene.Field(lambda: Tree)


class TreeQuery(graphene.ObjectType):
    tree = graphene.Field(Tree)


TREE = graphene.Schema(query=TreeQuery).graphql_schema


def depth_errors(query: str) -> list:
    return validate(TREE, parse(query), [QueryDepthLimit])


def nested(depth: int) -> str:
    # tree (1), then depth - 2 times child, then leaf (1)
    return "{ tree { " + "child { " * (depth - 2) + "leaf" + " }" * (depth - 1) + " }"


def test_depth_counts_field_levels_and_allows_ten():
    assert depth_errors(nested(10)) == []
    (error,) = depth_errors(nested(11))
    assert error.extensions == {"code": "query_too_deep"}
    assert "11 levels" in error.message


def test_depth_follows_fragments_and_ignores_introspection():
    fragment = "fragment Deep on Tree { " + "child { " * 8 + "leaf" + " }" * 8 + " }"
    assert len(depth_errors("{ tree { child { ...Deep } } } " + fragment)) == 1
    assert depth_errors("{ tree { ...Deep } } " + fragment) == []
    introspection = "{ __schema { types { fields { type { ofType { ofType { ofType { name"
    assert depth_errors(introspection + " } } } } } } } }") == []


def test_depth_survives_fragment_cycles_and_unknown_fragments():
    assert depth_errors("{ tree { ...A } } fragment A on Tree { child { ...A } }") == []
    assert depth_errors("{ tree { ...Missing } }") == []


def sessions_nested(depth: int) -> str:
    # `sessions` is level 1; each further level nests one field inside the previous one.
    names = ['sessions(projectId: "proj_acme")', "edges", "node", "journeys", "journey"]
    names += [f"f{level}" for level in range(len(names), depth)]
    return "{ " + " { ".join(names) + " }" * (depth - 1) + " }"


def test_queries_deeper_than_ten_levels_are_refused(client, acme):
    response = gql(client, sessions_nested(11), key=acme.secret_key)
    assert response.status_code == 400
    assert "query_too_deep" in error_codes(response.json())
    shallow = gql(client, sessions_nested(10), key=acme.secret_key)
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


def test_every_statement_of_a_request_has_a_timeout_and_a_cancel_is_query_timeout(
    client, acme, monkeypatch
):
    from graphql_api.orgs import types as graphql_types
    from productgraph.graphql import limits

    def slow_list(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(1)")
        return []

    monkeypatch.setattr(limits, "REQUEST_STATEMENT_TIMEOUT_MS", 50)
    monkeypatch.setattr(graphql_types, "project_list_scoped", slow_list)
    response = gql(client, "{ projects { publicId } }", key=acme.secret_key)
    body = response.json()
    assert response.status_code == 200 and body["data"] is None, body  # projects is non-null
    assert [error["extensions"]["code"] for error in body["errors"]] == ["query_timeout"]


def test_a_statement_over_the_timeout_is_cancelled_as_query_timeout(db):
    with transaction.atomic():
        with (
            pytest.raises(CodedGraphQLError) as raised,
            statement_timeout(50),
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT pg_sleep(2)")
        assert raised.value.extensions == {"code": "query_timeout"}
        with connection.cursor() as cursor:  # the transaction goes on, timeout restored
            cursor.execute("SELECT current_setting('statement_timeout')")
            assert cursor.fetchone()[0] == "0"
