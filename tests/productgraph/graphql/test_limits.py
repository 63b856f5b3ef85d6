"""The committed SDL, and the pure parts of the GraphQL edge (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import graphene
import pytest
from django.conf import settings
from graphql import parse, print_schema, validate

from graphql_api.schema import schema
from productgraph.graphql.errors import CodedGraphQLError
from productgraph.graphql.limits import QueryDepthLimit
from productgraph.graphql.loaders import Loaders
from productgraph.graphql.pagination import (
    DATETIME,
    INT,
    OPTIONAL_INT,
    decode_cursor,
    encode_cursor,
    page_size,
)

SDL = Path(settings.BASE_DIR) / "graphql_api" / "schema.graphql"


def test_the_committed_schema_matches_the_code():
    printed = print_schema(schema.graphql_schema)
    assert SDL.read_text().rstrip("\n") == printed.rstrip("\n"), (
        "graphql_api/schema.graphql is stale: run `python manage.py graphql_schema` "
        "and commit the file"
    )


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


def test_cursors_round_trip_and_reject_anything_else():
    moment = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
    cursor = encode_cursor("session-events", (moment, None, 7))
    assert decode_cursor(cursor, "session-events", (DATETIME, OPTIONAL_INT, INT)) == (
        moment,
        None,
        7,
    )
    assert decode_cursor(None, "events", (DATETIME, INT)) is None
    naive = encode_cursor("events", ("2026-01-15T10:30:00", 1))
    for bad in ["", "%%%", cursor, encode_cursor("events", (moment, "7")), naive]:
        with pytest.raises(CodedGraphQLError) as raised:
            decode_cursor(bad, "events", (DATETIME, INT))
        assert raised.value.extensions == {"code": "invalid_cursor"}


def test_page_size_defaults_to_50_and_never_clamps():
    assert (page_size(None), page_size(1), page_size(500)) == (50, 1, 500)
    for too_large in (501, 10_000):
        with pytest.raises(CodedGraphQLError) as raised:
            page_size(too_large)
        assert raised.value.extensions["code"] == "page_size_too_large"


def test_a_loader_fetches_announced_keys_in_one_batch():
    calls: list[list[int]] = []

    def fetch(keys, *, scale):
        calls.append(sorted(keys))
        return {key: key * scale for key in keys if key != 3}

    loaders = Loaders()
    loaders.expect(fetch, [1, 2, 3])
    loader = loaders.get(fetch, scale=10)
    assert [loader.load(key) for key in (1, 2, 3, 4)] == [10, 20, None, 40]
    assert calls == [[1, 2, 3], [4]]
    assert loaders.get(fetch, scale=10) is loader
    other = loaders.get(fetch, default=list, scale=2)
    assert other.load(3) == [] and calls[-1] == [1, 2, 3], "arguments share the announcement"
