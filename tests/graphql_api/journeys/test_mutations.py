"""The journey mutations (graphql_api/journeys/mutations.py): every problem of an
invalid definition, partial updates, deactivation, defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import transaction

from journeys.models import Journey
from productgraph.tenancy.context import org_context
from tests.graphql_api.helpers import add_journey, as_editor, data, error_codes, gql

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
