"""What each query and mutation answers: filters, orders, keyset pages, metrics, series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from analytics.stores.postgres import funnel as postgres_funnel
from journeys.models import Journey
from productgraph.graphql.errors import CodedGraphQLError
from productgraph.graphql.limits import statement_timeout
from productgraph.tenancy.context import org_context
from tests.graphql_api.helpers import (
    add_journey,
    as_editor,
    captured_sql,
    data,
    error_codes,
    fold,
    gql,
    send,
    visit,
)
from tests.ingestion.helpers import event

PROJECTS = "{ projects { publicId } }"
EVENTS = """query($f: EventFilter, $first: Int, $after: String) {
  events(projectId: "proj_acme", filter: $f, first: $first, after: $after) {
    edges { cursor node { eventId } } pageInfo { hasNextPage endCursor } } }"""


def _ev(event_id: str, minute: int, session: str = "s1", **fields):
    item = event(event_id=event_id, event__timestamp=f"2026-01-15T10:{minute:02}:00Z", **fields)
    item["session.id"] = session
    return item


def event_ids(client, key, criteria=None, first=None, after=None) -> list[str]:
    page = data(client, EVENTS, {"f": criteria, "first": first, "after": after}, key=key)
    return [edge["node"]["eventId"] for edge in page["events"]["edges"]]


def test_events_are_ordered_by_time_then_arrival_and_filtered(client, acme):
    send(
        client,
        acme,
        _ev("late", 5, page__path="/b"),
        _ev("early", 1, user__id="u1", page__path="/a"),
        _ev("tied-1", 3, event__type="ui.click", page__path="/a"),
        _ev("tied-2", 3, session="s2", event__type="error", gen_ai__journey__id="checkout"),
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
        _ev(
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
    send(client, acme, *(_ev(f"e{minute}", minute) for minute in range(7)))
    send(client, acme, _ev("e3b", 3))  # a timestamp tie: ordered by arrival (id)
    original = ["e0", "e1", "e2", "e3", "e3b", "e4", "e5", "e6"]
    seen: list[str] = []
    after = None
    inserts = iter(
        [
            [_ev("new-early", 0), _ev("new-tie", 2), _ev("new-late", 30)],
            [_ev("new-mid", 4, session="s9")],
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


SESSIONS = """query($f: SessionFilter, $first: Int, $after: String) {
  sessions(projectId: "proj_acme", filter: $f, first: $first, after: $after) {
    nodes { sessionId isActive errorCount entryPage }
    pageInfo { hasNextPage endCursor } } }"""


def session_ids(client, acme, criteria=None) -> list[str]:
    page = data(client, SESSIONS, {"f": criteria}, key=acme.secret_key)
    return [node["sessionId"] for node in page["sessions"]["nodes"]]


def test_sessions_are_newest_first_and_filtered(client, acme):
    visit(client, acme, "old", "/home", "/pricing", hour=8, user__id="u1")
    visit(client, acme, "mid", "/pricing", hour=9)
    send(client, acme, _ev("err", 0, session="mid", event__type="error"))
    now = datetime.now(tz=UTC).replace(microsecond=0)
    live = event(event_id="live", event__timestamp=now.isoformat(), page__path="/home")
    live["session.id"] = "live"
    send(client, acme, live)
    fold(acme, "old", "mid", "live")
    assert session_ids(client, acme) == ["live", "mid", "old"]
    assert session_ids(client, acme, {"active": True}) == ["live"]
    assert session_ids(client, acme, {"active": False}) == ["mid", "old"]
    assert session_ids(client, acme, {"userId": "u1"}) == ["old"]
    assert session_ids(client, acme, {"hasErrors": True}) == ["mid"]
    assert session_ids(client, acme, {"hasErrors": False}) == ["live", "old"]
    assert session_ids(client, acme, {"entryPage": "/pricing"}) == ["mid"]
    window = {"from": "2026-01-15T08:30:00Z", "to": "2026-01-15T09:30:00Z"}
    assert session_ids(client, acme, window) == ["mid"]


def test_session_pages_follow_the_cursor_without_overlap(client, acme):
    for index in range(5):
        visit(client, acme, f"s{index}", "/home", hour=10 + index % 2)  # ties on last_event_at
    fold(acme, *(f"s{index}" for index in range(5)))
    seen, after = [], None
    while True:
        page = data(client, SESSIONS, {"first": 2, "after": after}, key=acme.secret_key)
        seen += [node["sessionId"] for node in page["sessions"]["nodes"]]
        if not page["sessions"]["pageInfo"]["hasNextPage"]:
            break
        after = page["sessions"]["pageInfo"]["endCursor"]
    assert sorted(seen) == [f"s{index}" for index in range(5)]
    assert seen[:2] == ["s3", "s1"], "newest first; ties by id, descending"


REPLAY = """query($first: Int, $after: String) {
  session(projectId: "proj_acme", sessionId: "s1") {
    sessionId eventCount
    events(first: $first, after: $after) {
      nodes { eventId sequence } pageInfo { hasNextPage endCursor } }
    journeys { status lastStepId lastStepIndex journey { key } } } }"""


def test_a_session_replays_its_events_in_session_order(client, acme):
    send(
        client,
        acme,
        _ev("b-no-seq", 1),
        _ev("c-seq-2", 1, event__sequence=2),
        _ev("a-seq-1", 1, event__sequence=1),
        _ev("d-later", 2, event__sequence=0),
        _ev("e-no-seq", 1),
    )
    fold(acme, "s1")
    expected = ["a-seq-1", "c-seq-2", "b-no-seq", "e-no-seq", "d-later"]
    whole = data(client, REPLAY, key=acme.secret_key)["session"]
    assert [n["eventId"] for n in whole["events"]["nodes"]] == expected
    assert whole["eventCount"] == 5
    seen, after = [], None
    while True:
        events = data(client, REPLAY, {"first": 2, "after": after}, key=acme.secret_key)["session"][
            "events"
        ]
        seen += [n["eventId"] for n in events["nodes"]]
        if not events["pageInfo"]["hasNextPage"]:
            break
        after = events["pageInfo"]["endCursor"]
    assert seen == expected
    assert data(client, REPLAY, key=acme.secret_key)["session"]["journeys"] == []


def test_a_session_lists_its_journeys_and_a_missing_one_is_null(client, acme):
    visit(client, acme, "s1", "/cart", "/pay")
    fold(acme, "s1")
    add_journey(acme)
    journeys = data(client, REPLAY, key=acme.secret_key)["session"]["journeys"]
    assert journeys == [
        {
            "status": "CONVERTED",
            "lastStepId": "pay",
            "lastStepIndex": 1,
            "journey": {"key": "checkout"},
        }
    ]
    query = '{ session(projectId: "proj_acme", sessionId: "nope") { sessionId } }'
    assert data(client, query, key=acme.secret_key) == {"session": None}


JOURNEY = """{ journey(projectId: "proj_acme", key: "checkout") {
  key name isActive timeoutMinutes steps
  metrics { totalSessions converted conversionRate medianDurationMs avgDurationMs
            byStatus { status count } steps { id name reached dropOff } } } }"""


def test_a_journey_has_its_stored_metrics_and_step_drop_off(client, acme):
    visit(client, acme, "converts", "/home", "/cart", "/pay")
    visit(client, acme, "bounces", "/cart", "/home", hour=11)
    fold(acme, "converts", "bounces")
    add_journey(acme, refresh=False)
    assert data(client, JOURNEY, key=acme.secret_key)["journey"]["metrics"] is None
    add_journey(acme, key="other")  # refreshes every journey of the project
    journey = data(client, JOURNEY, key=acme.secret_key)["journey"]
    metrics = journey["metrics"]
    assert (metrics["totalSessions"], metrics["converted"], metrics["conversionRate"]) == (
        2,
        1,
        0.5,
    )
    assert metrics["medianDurationMs"] == metrics["avgDurationMs"] == 60_000
    assert {"status": "BOUNCED", "count": 1} in metrics["byStatus"]
    statuses = [s["status"] for s in metrics["byStatus"]]
    assert statuses == ["PENDING", "CONVERTED", "DROPPED", "BOUNCED", "ABANDONED"]
    assert metrics["steps"] == [
        {"id": "cart", "name": "Cart", "reached": 2, "dropOff": 0},
        {"id": "pay", "name": "Pay", "reached": 1, "dropOff": 1},
    ]
    assert journey["steps"][0]["match"] == [{"field": "page.path", "op": "eq", "value": "/cart"}]
    keys = data(client, '{ journeys(projectId: "proj_acme") { key } }', key=acme.secret_key)
    assert keys == {"journeys": [{"key": "checkout"}, {"key": "other"}]}


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


UPDATE = """mutation($input: UpdateJourneyInput!) {
  updateJourney(input: $input) { journey { key name steps timeoutMinutes isActive } } }"""
DEACTIVATE = """mutation { deactivateJourney(projectId: "proj_acme", key: "checkout") {
  journey { key isActive } } }"""


def _stored(acme) -> Journey:
    with transaction.atomic(), org_context(acme.org.pk):
        return Journey.objects.get(key="checkout")


def test_an_invalid_definition_lists_every_problem(client, acme):
    editor = as_editor(client, acme)
    mutation = """mutation($steps: JSON!) { createJourney(input: {projectId: "proj_acme",
        key: "Bad Key", name: "Bad", steps: $steps}) { journey { key } } }"""
    steps = [{"id": "a", "match": [{"field": "page.path", "op": "like"}]}, {"id": "a"}]
    body = gql(client, mutation, {"steps": steps}, **editor).json()
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "invalid_definition"
    problems = error["extensions"]["problems"]
    assert any(p.startswith("key:") for p in problems)
    assert any("unknown op 'like'" in p for p in problems)
    assert any("duplicate step id" in p for p in problems)
    assert body["data"] == {"createJourney": None}


def test_update_changes_only_what_is_given_and_validates(client, acme):
    editor = as_editor(client, acme)
    add_journey(acme, refresh=False)
    variables = {"input": {"projectId": "proj_acme", "key": "checkout", "name": "Buy"}}
    journey = data(client, UPDATE, variables, **editor)["updateJourney"]["journey"]
    assert (journey["name"], len(journey["steps"]), journey["timeoutMinutes"]) == ("Buy", 2, 30)
    bad = {"input": {"projectId": "proj_acme", "key": "checkout", "steps": []}}
    body = gql(client, UPDATE, bad, **editor).json()
    assert error_codes(body) == ["invalid_definition"]
    assert len(_stored(acme).steps) == 2, "nothing saved"
    long = {"input": {"projectId": "proj_acme", "key": "checkout", "name": "x" * 256}}
    assert error_codes(gql(client, UPDATE, long, **editor).json()) == ["invalid_argument"]
    missing = {"input": {"projectId": "proj_acme", "key": "nope", "name": "N"}}
    assert error_codes(gql(client, UPDATE, missing, **editor).json()) == ["not_found"]


def test_deactivate_keeps_the_journey_and_its_metrics(client, acme):
    editor = as_editor(client, acme)
    add_journey(acme)
    before = _stored(acme).metrics
    payload = data(client, DEACTIVATE, **editor)["deactivateJourney"]
    assert payload == {"journey": {"key": "checkout", "isActive": False}}
    stored = _stored(acme)
    assert not stored.is_active and stored.metrics == before


def test_created_journeys_use_the_defaults(client, acme):
    editor = as_editor(client, acme)
    mutation = """mutation { createJourney(input: {projectId: "proj_acme", key: "checkout",
        name: "Checkout", steps: [{id: "cart", match: [{field: "page.path", op: "eq",
        value: "/cart"}]}]}) { journey { key entry exit timeoutMinutes isActive metrics {
        totalSessions } createdAt } } }"""
    journey = data(client, mutation, **editor)["createJourney"]["journey"]
    assert journey["entry"] == journey["exit"] == []
    assert (journey["timeoutMinutes"], journey["isActive"], journey["metrics"]) == (30, True, None)
    created = datetime.fromisoformat(journey["createdAt"])
    assert abs(created - datetime.now(tz=UTC)) < timedelta(minutes=1)
    explicit_nulls = 'key: "nulls", isActive: null, timeoutMinutes: null'
    nulls = mutation.replace('key: "checkout"', explicit_nulls)
    journey = data(client, nulls, **editor)["createJourney"]["journey"]
    assert (journey["isActive"], journey["timeoutMinutes"]) == (True, 30), "null: the default"


FUNNEL = """query($steps: [JSON!]!, $breakdown: String, $exclusions: [FunnelExclusionInput!],
               $unit: FunnelUnit, $window: Int) {
  funnel(projectId: "proj_acme", steps: $steps, from: "2026-01-15T00:00:00Z",
         to: "2026-01-16T00:00:00Z", breakdown: $breakdown, exclusions: $exclusions,
         unit: $unit, windowSeconds: $window) {
    breakdown
    overall { steps { step count conversionFromFirst conversionFromPrevious dropOff
                      medianTimeFromPreviousMs } }
    buckets { value steps { count } } } }"""
CART_PAY = [
    [{"field": "page.path", "op": "eq", "value": "/cart"}],
    [{"field": "page.path", "op": "eq", "value": "/pay"}],
]


def test_a_funnel_counts_steps_with_conversion_and_median_times(client, acme):
    visit(client, acme, "converts", "/home", "/cart", "/pay")
    visit(client, acme, "bounces", "/cart", "/home", hour=11)
    visit(client, acme, "slow", "/cart", "/cart", hour=12)
    funnel = data(client, FUNNEL, {"steps": CART_PAY}, key=acme.secret_key)["funnel"]
    assert funnel["overall"]["steps"] == [
        {
            "step": 1,
            "count": 3,
            "conversionFromFirst": 100.0,
            "conversionFromPrevious": None,
            "dropOff": None,
            "medianTimeFromPreviousMs": None,
        },
        {
            "step": 2,
            "count": 1,
            "conversionFromFirst": pytest.approx(100 / 3),
            "conversionFromPrevious": pytest.approx(100 / 3),
            "dropOff": 2,
            "medianTimeFromPreviousMs": 60_000.0,
        },
    ]
    assert funnel["breakdown"] is None and len(funnel["buckets"]) == 1


def test_a_funnel_breaks_down_and_excludes(client, acme):
    visit(client, acme, "a", "/cart", "/pay", user__id="u1")
    visit(client, acme, "b", "/cart", "/help", "/pay", hour=11)
    exclusions = [
        {
            "match": [{"field": "page.path", "op": "eq", "value": "/help"}],
            "fromStep": 1,
            "toStep": 2,
        }
    ]
    variables = {"steps": CART_PAY, "breakdown": "user.id", "exclusions": exclusions}
    funnel = data(client, FUNNEL, variables, key=acme.secret_key)["funnel"]
    assert [s["count"] for s in funnel["overall"]["steps"]] == [2, 1]
    assert {(b["value"], b["steps"][1]["count"]) for b in funnel["buckets"]} == {
        ("u1", 1),
        (None, 0),
    }
    per_user = data(client, FUNNEL, {"steps": CART_PAY, "unit": "USER"}, key=acme.secret_key)
    assert [s["count"] for s in per_user["funnel"]["overall"]["steps"]] == [1, 1]


def test_an_invalid_funnel_lists_its_problems(client, acme):
    steps = [[{"field": "page.path", "op": "like", "value": "/cart"}]]
    body = gql(client, FUNNEL, {"steps": steps, "window": -5}, key=acme.secret_key).json()
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "invalid_definition"
    problems = error["extensions"]["problems"]
    assert any("unknown op 'like'" in p for p in problems)
    assert any(p.startswith("steps:") for p in problems)
    assert any(p.startswith("windowSeconds:") for p in problems), "the argument's name"
    backwards = """{ funnel(projectId: "proj_acme", steps: [[{field: "page.path", op: "exists"}],
        [{field: "page.path", op: "exists"}]], from: "2026-01-16T00:00:00Z",
        to: "2026-01-15T00:00:00Z", exclusions: [{match: [{field: "n", op: "exists"}],
        fromStep: 2, toStep: 1}]) { breakdown } }"""
    problems = gql(client, backwards, key=acme.secret_key).json()["errors"][0]["extensions"]
    assert "to: must be after from" in problems["problems"]
    assert "exclusions[0]: fromStep must come before toStep" in problems["problems"]


def test_a_funnel_that_runs_too_long_is_query_timeout(client, acme, monkeypatch):
    # The real runner and its real statement timeout; only its SQL is made slow.
    monkeypatch.setattr("productgraph.graphql.limits.ANALYTIC_STATEMENT_TIMEOUT_MS", 50)
    monkeypatch.setattr(postgres_funnel, "compile_funnel", lambda *_: ("SELECT pg_sleep(2)", []))
    body = gql(client, FUNNEL, {"steps": CART_PAY}, key=acme.secret_key).json()
    assert error_codes(body) == ["query_timeout"]
    assert data(client, PROJECTS, key=acme.secret_key), "later requests are unaffected"
