"""The pure sessionization fold (analytics.md, Sessions) — no database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from sessions.sessionization import EventFacts, fold_session
from sessions.useragent import parse_user_agent

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TIMEOUT = timedelta(minutes=30)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def ev(i: int, seconds: float, event_type: str = "ui.click", **extra) -> EventFacts:
    return EventFacts(
        id=i, timestamp=T0 + timedelta(seconds=seconds), event_type=event_type, **extra
    )


def fold(events, now=T0 + timedelta(minutes=5)):
    return fold_session(events, timeout=TIMEOUT, now=now)


def test_counts_pages_and_bounds():
    events = [
        ev(1, 0, "page.view", page_path="/home", page_referrer="https://google.com"),
        ev(2, 5, "ui.click", page_path="/home"),
        ev(3, 10, "page.view", page_path="/pricing"),
        ev(4, 12, "error"),
        ev(5, 20, "page.view", page_path="/home"),
        ev(6, 25, "api.request"),
    ]
    session = fold(events)
    assert session.started_at == T0 and session.last_event_at == T0 + timedelta(seconds=25)
    assert session.duration_ms == 25_000
    assert (session.event_count, session.page_view_count, session.unique_page_count) == (6, 3, 2)
    assert session.error_count == 1
    assert (session.entry_page, session.exit_page) == ("/home", "/home")
    assert session.referrer == "https://google.com"


def test_entry_and_exit_fall_back_to_any_event_with_a_path():
    session = fold([ev(1, 0, page_path="/a"), ev(2, 1), ev(3, 2, page_path="/b")])
    assert (session.entry_page, session.exit_page) == ("/a", "/b")
    assert session.page_view_count == 0


def test_no_paths_at_all():
    session = fold([ev(1, 0)])
    assert (session.entry_page, session.exit_page, session.duration_ms) == (None, None, 0)


def test_active_until_idle_longer_than_the_timeout():
    events = [ev(1, 0), ev(2, 60)]
    last = T0 + timedelta(seconds=60)
    assert fold(events, now=last + TIMEOUT).ended_at is None
    assert fold(events, now=last + TIMEOUT + timedelta(seconds=1)).ended_at == last


def test_late_and_out_of_order_events_give_the_in_order_result():
    events = [
        ev(1, 0, "page.view", page_path="/a", user_id="u1"),
        ev(2, 30, "page.view", page_path="/b"),
        ev(3, 60, "page.view", page_path="/c", user_id="u2"),
        ev(4, 90, "error"),
    ]
    expected = fold(events)
    for _ in range(20):
        shuffled = events[:]
        random.shuffle(shuffled)
        assert fold(shuffled) == expected


def test_a_late_event_earlier_than_all_others_moves_start_and_entry():
    events = [ev(1, 100, "page.view", page_path="/b"), ev(2, 200, "page.view", page_path="/c")]
    late = ev(3, 0, "page.view", page_path="/landing")
    session = fold([*events, late])
    assert session.started_at == T0 and session.entry_page == "/landing"
    assert session.duration_ms == 200_000


def test_ties_break_by_sequence_then_arrival():
    tied = [
        ev(10, 5, "page.view", page_path="/second", sequence=2),
        ev(11, 5, "page.view", page_path="/first", sequence=1),
        ev(12, 5, "page.view", page_path="/unsequenced-late"),
        ev(9, 5, "page.view", page_path="/unsequenced-early"),
    ]
    session = fold(tied)
    assert session.entry_page == "/first"
    assert session.exit_page == "/unsequenced-late"


def test_user_is_the_last_non_empty_and_anonymous_id_the_first():
    events = [
        ev(1, 0, anonymous_id="anon-1"),
        ev(2, 1, user_id="alice", anonymous_id="anon-2"),
        ev(3, 2, user_id=""),
        ev(4, 3),
    ]
    session = fold(events)
    assert (session.user_id, session.anonymous_id) == ("alice", "anon-1")


def test_referrer_is_the_first_event_that_has_one():
    events = [
        ev(1, 0),
        ev(2, 1, page_referrer="https://a.test"),
        ev(3, 2, page_referrer="https://b"),
    ]
    assert fold(events).referrer == "https://a.test"


def test_user_agent_is_parsed():
    session = fold([ev(1, 0, user_agent=CHROME)])
    assert (session.browser, session.os, session.device_type) == ("Chrome", "Windows", "desktop")


@pytest.mark.parametrize(
    ("agent", "device_type"),
    [
        (IPHONE, "mobile"),
        ("Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X)", "tablet"),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", "bot"),
        (CHROME, "desktop"),
        ("", None),
        (None, None),
    ],
)
def test_device_types(agent, device_type):
    assert parse_user_agent(agent).device_type == device_type


def test_an_empty_session_is_refused():
    with pytest.raises(ValueError):
        fold([])
