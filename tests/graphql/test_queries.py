"""eventCounts through /graphql: zero-filled series per group, refused arguments, its
statement timeout (the query itself: tests/analytics/test_event_counts.py). Not yet with the
other events queries in tests/graphql_api/events/test_types.py: the event-count code is
moving (issue 17)."""

from __future__ import annotations

import pytest

from tests.graphql_api.helpers import captured_sql, data, error_codes, gql, send, visit
from tests.graphql_api.helpers import event_at as _ev

COUNTS = """query($from: DateTime!, $to: DateTime!, $interval: Interval!,
                 $groupBy: EventGroupField, $types: [String!], $maxGroups: Int) {
  eventCounts(projectId: "proj_acme", from: $from, to: $to, interval: $interval,
              groupBy: $groupBy, types: $types, maxGroups: $maxGroups) {
    group total points { bucket count } } }"""


def counts(client, acme, **variables):
    defaults = {"from": "2026-01-15T00:00:00Z", "to": "2026-01-17T00:00:00Z", "interval": "DAY"}
    return data(client, COUNTS, {**defaults, **variables}, key=acme.secret_key)["eventCounts"]


def test_event_counts_are_zero_filled_series_per_group(client, acme):
    visit(client, acme, "s1", "/a", "/a", "/b", hour=10)
    send(client, acme, _ev("err", 1, session="s2", event__type="error"))
    (total,) = counts(client, acme)
    assert total["group"] is None and total["total"] == 4
    assert total["points"] == [
        {"bucket": "2026-01-15T00:00:00+00:00", "count": 4},
        {"bucket": "2026-01-16T00:00:00+00:00", "count": 0},
    ]
    by_type = counts(client, acme, groupBy="EVENT_TYPE")
    assert [(s["group"], s["total"]) for s in by_type] == [("page.view", 3), ("error", 1)]
    by_path = counts(client, acme, groupBy="PAGE_PATH", maxGroups=2)
    assert [(s["group"], s["total"]) for s in by_path] == [("/a", 2), (None, 1)]
    hourly = counts(client, acme, interval="HOUR", to="2026-01-15T12:00:00Z", types=["error"])
    assert [p["count"] for p in hourly[0]["points"]][9:] == [0, 1, 0]
    by_default = counts(client, acme, groupBy="EVENT_TYPE", maxGroups=None)  # null: 20
    assert [(s["group"], s["total"]) for s in by_default] == [("page.view", 3), ("error", 1)]
    (weekly,) = counts(client, acme, interval="WEEK")
    assert weekly["points"] == [{"bucket": "2026-01-12T00:00:00+00:00", "count": 4}]


@pytest.mark.parametrize(
    "variables",
    [
        {"from": "2026-01-17T00:00:00Z"},
        {"interval": "HOUR", "to": "2027-01-01T00:00:00Z"},
        {"maxGroups": 101, "groupBy": "EVENT_TYPE"},
        {"types": ["nope"]},
        {"from": "0001-01-01T00:00:00+14:00"},  # a bucket start before year 1
        {"to": "9999-12-31T20:00:00-05:00", "interval": "WEEK"},  # and past 9999
    ],
)
def test_event_counts_refuse_bad_arguments(client, acme, variables):
    defaults = {"from": "2026-01-15T00:00:00Z", "to": "2026-01-17T00:00:00Z", "interval": "DAY"}
    body = gql(client, COUNTS, {**defaults, **variables}, key=acme.secret_key).json()
    assert error_codes(body) == ["invalid_argument"]


def test_event_counts_run_under_a_statement_timeout(client, acme):
    variables = {"from": "2026-01-15T00:00:00Z", "to": "2026-01-16T00:00:00Z", "interval": "DAY"}
    sqls = captured_sql(client, COUNTS, variables, key=acme.secret_key)
    timeouts = [i for i, sql in enumerate(sqls) if "statement_timeout" in sql]
    count = next(i for i, sql in enumerate(sqls) if "date_trunc" in sql)
    # The request's own 15 s first, then the analytic 10 s around the count, restored.
    assert len(timeouts) == 3 and timeouts[0] < timeouts[1] < count < timeouts[2]
