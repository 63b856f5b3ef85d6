"""The events queries (graphql_api/events/types.py and selectors.py): time-then-arrival
order, filters, typed fields, keyset pages that survive inserts, bad cursors."""

from __future__ import annotations

from tests.graphql_api.helpers import data, error_codes, event_at, gql, send

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
