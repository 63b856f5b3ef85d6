"""The event-count query (analytics.queries.event_counts): buckets, validation, its SQL.

Its numbers through GraphQL, against the stored events: tests/graphql_api/events/test_types.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from analytics.errors import QueryError
from analytics.queries.event_counts import EventCountsQuery, Interval, bucket_start
from analytics.stores.postgres import PostgresStore
from analytics.stores.postgres.event_counts import compile_event_counts
from productgraph.tenancy.context import OrgContextError


def _counts(**overrides) -> EventCountsQuery:
    base = {
        "project_id": 2,
        "since": datetime(2026, 1, 14, 23, 30, tzinfo=UTC),
        "until": datetime(2026, 1, 16, 0, 0, tzinfo=UTC),
        "interval": Interval.DAY,
    }
    return EventCountsQuery(**{**base, **overrides})


def test_buckets_are_utc_and_weeks_start_on_monday():
    assert _counts().buckets() == [
        datetime(2026, 1, 14, tzinfo=UTC),
        datetime(2026, 1, 15, tzinfo=UTC),
    ]
    thursday = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
    assert bucket_start(thursday, Interval.WEEK) == datetime(2026, 1, 12, tzinfo=UTC)
    assert bucket_start(thursday, Interval.HOUR) == datetime(2026, 1, 15, 10, tzinfo=UTC)


def test_the_sql_whitelists_the_group_column_and_passes_every_value_as_a_parameter():
    sql, params = compile_event_counts(_counts(group_by="page.path", types=("error",)), 1)
    assert "page_path::text AS grp" in sql and "event_type = ANY(%s)" in sql
    assert params == [
        "day",
        1,
        2,
        datetime(2026, 1, 14, 23, 30, tzinfo=UTC),
        datetime(2026, 1, 16, tzinfo=UTC),
        ["error"],
        20,
    ]
    assert "NULL::text AS grp" in compile_event_counts(_counts(), 1)[0]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"group_by": "error.stack"}, "cannot group by 'error.stack'"),
        (
            {"interval": Interval.HOUR, "until": datetime(2027, 1, 1, tzinfo=UTC)},
            "the range holds more than 5000 hour buckets",
        ),
        ({"since": datetime(2026, 2, 1, tzinfo=UTC)}, "from must be before to"),
        ({"since": datetime(2026, 1, 1)}, "from and to must carry a time zone"),
        ({"max_groups": 0}, "maxGroups must be from 1 to 100"),
        ({"types": ("nope",)}, "unknown event type(s): nope"),
    ],
)
def test_each_problem_is_named(overrides, problem):
    with pytest.raises(QueryError) as raised:
        _counts(**overrides).validate()
    assert raised.value.errors == [raised.value.errors[0]]
    assert raised.value.errors[0].startswith(problem)
    with pytest.raises(QueryError):
        compile_event_counts(_counts(**overrides), 1)


def test_every_problem_is_reported_at_once():
    query = _counts(since=datetime(2026, 2, 1, tzinfo=UTC), group_by="error.stack", max_groups=500)
    with pytest.raises(QueryError) as raised:
        query.validate()
    assert raised.value.errors == [
        "from must be before to",
        "cannot group by 'error.stack'",
        "maxGroups must be from 1 to 100",
    ]
    assert str(raised.value) == "; ".join(raised.value.errors)


@pytest.mark.django_db
def test_the_store_needs_an_org_context():
    with transaction.atomic(), pytest.raises(OrgContextError, match="org_context"):
        PostgresStore().event_counts(_counts(), timeout=timedelta(seconds=5))
