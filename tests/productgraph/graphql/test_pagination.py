"""Keyset pages (productgraph/graphql/pagination.py): cursors, and page sizes that
are refused, never clamped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from productgraph.graphql.errors import CodedGraphQLError
from productgraph.graphql.pagination import (
    DATETIME,
    INT,
    OPTIONAL_INT,
    decode_cursor,
    encode_cursor,
    page_size,
)
from tests.graphql_api.helpers import data, error_codes, gql


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


@pytest.mark.parametrize(("first", "code"), [(501, "page_size_too_large"), (0, "invalid_argument")])
def test_page_sizes_above_500_are_an_error_not_clamped(client, acme, first, code):
    query = 'query($n: Int) { events(projectId: "proj_acme", first: $n) { nodes { eventId } } }'
    body = gql(client, query, {"n": first}, key=acme.secret_key).json()
    assert error_codes(body) == [code]
    assert body["errors"][0]["path"] == ["events"]
    assert data(client, query, {"n": 500}, key=acme.secret_key)["events"] == {"nodes": []}
