"""The demo / benchmark event generator: pure, deterministic, valid, realistic in shape."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingestion.generator import (
    CHECKOUT_JOURNEY,
    CHECKOUT_STEPS,
    ONBOARDING_JOURNEY,
    _iso,
    generate_batches,
)
from ingestion.services import events_validate
from ingestion.validation import Project

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def events_of(**kwargs: Any) -> list[dict]:
    options: dict[str, Any] = {"sessions": 200, "days": 7, "seed": 7, "now": NOW} | kwargs
    return [event for batch in generate_batches(**options) for event in batch.events]


def by_session(events: list[dict]) -> dict[str, list[dict]]:
    sessions: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        sessions[event["session.id"]].append(event)
    return sessions


def test_same_seed_and_clock_give_the_same_events():
    assert events_of() == events_of()


def test_same_seed_at_another_time_gives_the_same_event_ids():
    later = events_of(now=NOW + timedelta(hours=5))
    assert [e["event_id"] for e in later] == [e["event_id"] for e in events_of()]


def test_another_seed_gives_other_events():
    ids = {e["event_id"] for e in events_of()}
    assert ids.isdisjoint(e["event_id"] for e in events_of(seed=8))


def test_shards_together_are_exactly_the_unsharded_sessions():
    whole = sorted(events_of(), key=lambda e: e["event_id"])
    parts = [e for shard in range(3) for e in events_of(shard=shard, shards=3)]
    assert sorted(parts, key=lambda e: e["event_id"]) == whole


def test_every_generated_event_passes_the_api_validation():
    events = events_of(project_id="proj_acme")
    valid, errors = events_validate(
        events=events,
        project=Project(public_id="proj_acme", slug="web"),
        received_at=NOW,
        retention_days=7,  # the days generated: none is older than a retention that long
    )
    assert errors == []
    assert len(valid) == len(events)
    assert len({e["event_id"] for e in events}) == len(events)


def test_timestamps_spread_over_the_last_days_and_never_after_now():
    events = events_of(sessions=500, days=3)
    stamps = sorted(datetime.fromisoformat(e["event.timestamp"]) for e in events)
    assert stamps[0] >= NOW - timedelta(days=3)
    assert stamps[-1] <= NOW
    assert {stamp.date() for stamp in stamps} >= {
        (NOW - timedelta(days=d)).date() for d in (0, 1, 2)
    }


def test_events_of_a_session_are_in_sequence_and_time_order():
    for events in by_session(events_of()).values():
        assert [e["event.sequence"] for e in events] == list(range(len(events)))
        stamps = [e["event.timestamp"] for e in events]
        assert stamps == sorted(stamps)


def test_sessions_enter_on_a_page_view_and_leave_with_a_page_leave():
    for events in by_session(events_of()).values():
        assert events[0]["event.type"] == "page.view"
        views = [e for e in events if e["event.type"] == "page.view"]
        leaves = [e for e in events if e["event.type"] == "page.leave"]
        assert len(views) == len(leaves) >= 1
        assert all(e["duration_ms"] >= 0 for e in leaves)


def test_some_sessions_are_anonymous_and_some_come_from_a_referrer():
    sessions = by_session(events_of(sessions=300)).values()
    anonymous = [s for s in sessions if "user.id" not in s[0]]
    referred = [s for s in sessions if "page.referrer" in s[0]]
    assert 0 < len(anonymous) < len(sessions)
    assert 0 < len(referred) < len(sessions)
    assert all("user.anonymous_id" in s[0] for s in sessions)


def test_the_mix_has_clicks_api_pairs_errors_vitals_and_journeys():
    events = events_of(sessions=500)
    types = Counter(e["event.type"] for e in events)
    assert types["api.request"] == types["api.response"] > 0
    for kind in ("ui.click", "ui.scroll", "error", "performance", "journey.step", "state.change"):
        assert types[kind] > 0, kind
    clicks = [e for e in events if e["event.type"] == "ui.click"]
    assert all(e["ui.component.name"] and e["ui.action"] == "click" for e in clicks)
    statuses = {e["api.status_code"] for e in events if e["event.type"] == "api.response"}
    assert {200, 201} <= statuses and any(s >= 400 for s in statuses)
    journeys = {e["gen_ai.journey.id"] for e in events if e["event.type"] == "journey.step"}
    assert journeys == {CHECKOUT_JOURNEY, ONBOARDING_JOURNEY}


def test_the_checkout_funnel_is_walked_in_order_with_drop_off() -> None:
    order = [step_id for step_id, *_ in CHECKOUT_STEPS]
    reached: Counter[str] = Counter()
    for events in by_session(events_of(sessions=2000)).values():
        steps = [
            e["gen_ai.journey.step.id"]
            for e in events
            if e["event.type"] == "journey.step" and e["gen_ai.journey.id"] == CHECKOUT_JOURNEY
        ]
        assert steps == order[: len(steps)]
        reached.update(steps)
    counts = [reached[step] for step in order]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[-1] > 0


def test_batches_share_one_user_agent_keep_sessions_whole_and_count_each_session_once() -> None:
    batches = list(generate_batches(sessions=300, days=7, seed=3, now=NOW, max_events=120))
    assert all(0 < len(batch.events) <= 120 for batch in batches)
    assert sum(batch.sessions for batch in batches) == 300
    homes: dict[str, set[int]] = defaultdict(set)
    sizes: Counter[str] = Counter()
    for index, batch in enumerate(batches):
        for event in batch.events:
            homes[event["session.id"]].add(index)
            sizes[event["session.id"]] += 1
    assert all(len(homes[s]) == 1 or sizes[s] > 120 for s in homes)
    agents = Counter(batch.user_agent for batch in batches)
    assert len(agents) > 3


@pytest.mark.parametrize(
    "bad",
    [{"sessions": -1}, {"days": 0}, {"max_events": 0}, {"shard": 2, "shards": 2}],
)
def test_bad_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        list(generate_batches(**({"sessions": 1, "days": 1, "seed": 1, "now": NOW} | bad)))


def test_iso_formats_like_datetime():
    rng = random.Random(1)
    for _ in range(1000):
        ms = rng.randrange(0, 4_000_000_000_000)
        moment = datetime.fromtimestamp(ms // 1000, UTC) + timedelta(milliseconds=ms % 1000)
        expected = moment.isoformat(timespec="milliseconds")
        assert _iso(ms) == expected.replace("+00:00", "Z")
