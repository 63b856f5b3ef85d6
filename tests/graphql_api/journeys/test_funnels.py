"""The funnel query (graphql_api/journeys/funnels.py): counts, conversion and median
times, breakdowns and exclusions, problems named by argument, a timeout."""

from __future__ import annotations

import pytest

from analytics.stores.postgres import funnel as postgres_funnel
from tests.graphql_api.helpers import data, error_codes, gql, visit

PROJECTS = "{ projects { publicId } }"


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
