"""The sessions queries (graphql_api/sessions/types.py and selectors.py): newest first,
filters, keyset pages, a session's events in session order, its journeys."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.graphql_api.helpers import add_journey, data, event_at, fold, send, visit
from tests.ingestion.helpers import event

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
    send(client, acme, event_at("err", 0, session="mid", event__type="error"))
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
        event_at("b-no-seq", 1),
        event_at("c-seq-2", 1, event__sequence=2),
        event_at("a-seq-1", 1, event__sequence=1),
        event_at("d-later", 2, event__sequence=0),
        event_at("e-no-seq", 1),
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
