"""The journeys queries (graphql_api/journeys/types.py): a journey's stored metrics
and step drop-off."""

from __future__ import annotations

from tests.graphql_api.helpers import add_journey, data, fold, visit

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
