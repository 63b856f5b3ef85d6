"""The events queries (graphql_api/events/types.py and selectors.py): time-then-arrival
order, filters, typed fields, keyset pages that survive inserts, bad cursors; eventCounts."""

from __future__ import annotations

import pytest

from analytics.stores import postgres as postgres_store
from productgraph.graphql import limits
from tests.graphql_api.helpers import captured_sql, data, error_codes, event_at, gql, send, visit

EVENTS = """query($f: EventFilter, $first: Int, $after: String) {
  events(projectId: "proj_acme", filter: $f, first: $first, after: $after) {
    edges { cursor node { eventId } } pageInfo { hasNextPage endCursor } } }"""


def event_ids(client, key, criteria=None, first=None, after=None) -> list[str]:
    page = data(client, EVENTS, {"f": criteria, "first": first, "after": after}, key=key)
    return [edge["node"]["eventId"] for edge in page["events"]["edges"]]


def test_events_are_ordered_by_time_then_arrival_and_filtered(client, acme):
    send(
        client,
        acme,
        event_at("late", 5, page__path="/b"),
        event_at("early", 1, user__id="u1", page__path="/a"),
        event_at("tied-1", 3, event__type="ui.click", page__path="/a"),
        event_at("tied-2", 3, session="s2", event__type="error", gen_ai__journey__id="checkout"),
    )
    key = acme.secret_key
    assert event_ids(client, key) == ["early", "tied-1", "tied-2", "late"]
    assert event_ids(client, key, {"types": ["ui.click", "error"]}) == ["tied-1", "tied-2"]
    assert event_ids(client, key, {"sessionId": "s2"}) == ["tied-2"]
    assert event_ids(client, key, {"userId": "u1"}) == ["early"]
    assert event_ids(client, key, {"pagePath": "/a"}) == ["early", "tied-1"]
    assert event_ids(client, key, {"journeyKey": "checkout"}) == ["tied-2"]
    window = {"from": "2026-01-15T10:03:00Z", "to": "2026-01-15T10:05:00Z"}
    assert event_ids(client, key, window) == ["tied-1", "tied-2"]
    body = gql(client, EVENTS, {"f": {"types": ["page.viewed"]}}, key=key).json()
    assert error_codes(body) == ["invalid_argument"]


def test_event_fields_come_back_typed(client, acme):
    send(
        client,
        acme,
        event_at(
            "e1",
            1,
            event__sequence=2**40,
            ui__state__after={"count": 2},
            api__status_code=404,
            custom_key="kept",
        ),
    )
    query = """{ events(projectId: "proj_acme") { nodes { eventId sessionId eventType timestamp
        sequence uiStateAfter apiStatusCode attributes receivedAt } } }"""
    (node,) = data(client, query, key=acme.secret_key)["events"]["nodes"]
    assert node["sequence"] == 2**40, "BigInt: beyond GraphQL's 32-bit Int"
    assert node["uiStateAfter"] == {"count": 2}
    assert node["apiStatusCode"] == 404
    assert node["attributes"] == {"custom_key": "kept"}
    assert node["timestamp"] == "2026-01-15T10:01:00+00:00"


def test_event_pages_survive_inserts_between_fetches(client, acme):
    send(client, acme, *(event_at(f"e{minute}", minute) for minute in range(7)))
    send(client, acme, event_at("e3b", 3))  # a timestamp tie: ordered by arrival (id)
    original = ["e0", "e1", "e2", "e3", "e3b", "e4", "e5", "e6"]
    seen: list[str] = []
    after = None
    inserts = iter(
        [
            [event_at("new-early", 0), event_at("new-tie", 2), event_at("new-late", 30)],
            [event_at("new-mid", 4, session="s9")],
            [],
            [],
        ]
    )
    while True:
        page = data(client, EVENTS, {"first": 3, "after": after}, key=acme.secret_key)["events"]
        seen += [edge["node"]["eventId"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        batch = next(inserts)
        if batch:
            send(client, acme, *batch)
    assert len(seen) == len(set(seen)), "no duplicates"
    assert [e for e in seen if e in original] == original, "no skips, same order"
    assert "new-late" in seen and "new-early" not in seen, "only rows after the cursor appear"


def test_a_bad_cursor_is_invalid_cursor(client, acme):
    for cursor in ["garbage", "WyJzZXNzaW9ucyIsIjIwMjYtMDEtMTUiLDFd"]:  # the 2nd: a sessions one
        body = gql(client, EVENTS, {"after": cursor}, key=acme.secret_key).json()
        assert error_codes(body) == ["invalid_cursor"]


# --- eventCounts (the query itself: tests/analytics/test_event_counts.py) ----------------

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
    send(client, acme, event_at("err", 1, session="s2", event__type="error"))
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


def test_event_counts_name_every_problem_of_their_arguments_at_once(client, acme):
    variables = {"from": "2026-01-17T00:00:00Z", "to": "2026-01-15T00:00:00Z", "interval": "DAY"}
    variables |= {"maxGroups": 101, "types": ["nope"]}
    body = gql(client, COUNTS, variables, key=acme.secret_key).json()
    assert error_codes(body) == ["invalid_argument"]
    assert body["errors"][0]["message"] == (
        "from must be before to; maxGroups must be from 1 to 100; unknown event type(s): nope."
    )


def test_event_counts_past_their_statement_timeout_are_query_timeout(client, acme, monkeypatch):
    monkeypatch.setattr(limits, "ANALYTIC_STATEMENT_TIMEOUT_MS", 300)
    monkeypatch.setattr(
        postgres_store, "compile_event_counts", lambda *_: ("SELECT pg_sleep(5)", [])
    )
    variables = {"from": "2026-01-15T00:00:00Z", "to": "2026-01-16T00:00:00Z", "interval": "DAY"}
    body = gql(client, COUNTS, variables, key=acme.secret_key).json()
    assert error_codes(body) == ["query_timeout"]
    assert body["errors"][0]["message"] == (
        "The query ran longer than 0.3 s and was cancelled: narrow the time range or the filters."
    )
