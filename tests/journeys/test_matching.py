"""The pure matcher (journeys/matching.py; analytics.md, Journeys) — no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from journeys.definitions import parse_definition
from journeys.matching import match_session
from tests.journeys.helpers import step

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def page(path, minutes, **extra):
    return {
        "event.type": "page.view",
        "page.path": path,
        "event.timestamp": T0 + timedelta(minutes=minutes),
        **extra,
    }


def journey(steps, entry=None, exit=None, timeout=30):
    return parse_definition(
        key="checkout", entry=entry or [], steps=steps, exit=exit or [], timeout_minutes=timeout
    )


CHECKOUT = journey([step("cart", "/cart"), step("shipping", "/shipping"), step("payment", "/pay")])


def run(definition, events, active=False):
    return match_session(definition, events, session_active=active)


def test_every_step_in_order_converts():
    found = run(
        CHECKOUT, [page("/home", 0), page("/cart", 1), page("/shipping", 2), page("/pay", 3)]
    )
    assert found.status == "converted"
    assert found.entered_at == T0 + timedelta(minutes=1)
    assert found.converted_at == T0 + timedelta(minutes=3)
    assert (found.last_step_index, found.last_step_id, found.duration_ms) == (2, "payment", 120_000)


def test_a_session_that_never_enters_has_no_row():
    assert run(CHECKOUT, [page("/home", 0), page("/shipping", 1)]) is None


def test_steps_out_of_order_do_not_count():
    found = run(CHECKOUT, [page("/pay", 0), page("/cart", 1), page("/shipping", 2)])
    assert found.status == "dropped" and found.last_step_id == "shipping"


def test_ended_after_the_first_step_is_bounced():
    assert run(CHECKOUT, [page("/cart", 0), page("/home", 1)]).status == "bounced"


def test_ended_mid_journey_is_dropped():
    assert run(CHECKOUT, [page("/cart", 0), page("/shipping", 1)]).status == "dropped"


def test_an_active_session_mid_journey_is_pending():
    events = [page("/cart", 0), page("/shipping", 1)]
    assert run(CHECKOUT, events, active=True).status == "pending"


def test_an_active_session_going_on_past_the_timeout_without_progress_is_abandoned():
    events = [page("/cart", 0), page("/home", 31)]
    assert run(CHECKOUT, events, active=True).status == "abandoned"
    assert run(CHECKOUT, events, active=False).status == "abandoned"


def test_a_quiet_session_is_pending_then_bounced_or_dropped_never_abandoned_by_the_clock():
    # The status is a function of the events and of the session's state, not of the time of
    # matching: the idle close (which re-matches pending rows) and a full re-match agree.
    quiet = [page("/cart", 0), page("/home", 5)]
    assert run(CHECKOUT, quiet, active=True).status == "pending"
    assert run(CHECKOUT, quiet, active=False).status == "bounced"
    midway = [page("/cart", 0), page("/shipping", 2)]
    assert run(CHECKOUT, midway, active=True).status == "pending"
    assert run(CHECKOUT, midway, active=False).status == "dropped"


def test_an_optional_step_never_delays_the_conversion():
    definition = journey(
        [step("cart", "/cart"), step("up", "/up", optional=True), step("pay", "/pay")]
    )
    events = [page("/cart", 0), page("/pay", 1), page("/up", 2), page("/pay", 50)]
    found = run(definition, events)
    assert found.status == "converted" and found.converted_at == T0 + timedelta(minutes=1)
    taken = run(definition, [page("/cart", 0), page("/up", 1), page("/pay", 2)])
    assert (taken.status, taken.last_step_id) == ("converted", "pay")


def test_a_step_reached_after_the_timeout_is_abandoned():
    events = [page("/cart", 0), page("/shipping", 40), page("/pay", 41)]
    assert run(CHECKOUT, events).status == "abandoned"


def test_conversion_exactly_at_the_timeout_counts():
    events = [page("/cart", 0), page("/shipping", 10), page("/pay", 30)]
    assert run(CHECKOUT, events).status == "converted"


def test_an_exit_condition_converts():
    definition = journey(
        [step("cart", "/cart"), step("pay", "/pay")],
        exit=[{"field": "event.type", "op": "eq", "value": "journey.conversion"}],
    )
    events = [
        page("/cart", 0),
        {"event.type": "journey.conversion", "event.timestamp": T0 + timedelta(minutes=2)},
    ]
    found = run(definition, events)
    assert found.status == "converted" and found.converted_at == T0 + timedelta(minutes=2)


def test_entry_conditions_gate_the_journey():
    definition = journey(
        [step("cart", "/cart"), step("pay", "/pay")],
        entry=[{"field": "page.path", "op": "prefix", "value": "/shop"}],
    )
    assert run(definition, [page("/cart", 0), page("/pay", 1)]) is None
    found = run(definition, [page("/shop/item", 0), page("/cart", 1), page("/pay", 2)])
    assert found.status == "converted" and found.entered_at == T0


def test_tagged_events_match_their_step_directly():
    events = [
        {
            "event.type": "journey.step",
            "gen_ai.journey.id": "checkout",
            "gen_ai.journey.step.id": "cart",
            "event.timestamp": T0,
        },
        {
            "event.type": "journey.step",
            "gen_ai.journey.id": "checkout",
            "gen_ai.journey.step.id": "shipping",
            "event.timestamp": T0 + timedelta(minutes=1),
        },
        {
            "event.type": "journey.step",
            "gen_ai.journey.id": "other",
            "gen_ai.journey.step.id": "payment",
            "event.timestamp": T0 + timedelta(minutes=2),
        },
    ]
    found = run(CHECKOUT, events)
    assert found.status == "dropped" and found.last_step_id == "shipping"


def test_optional_steps_may_be_skipped():
    definition = journey(
        [step("cart", "/cart"), step("upsell", "/upsell", optional=True), step("pay", "/pay")]
    )
    assert run(definition, [page("/cart", 0), page("/pay", 1)]).status == "converted"


def test_an_optional_step_never_costs_a_required_one():
    definition = journey(
        [step("cart", "/cart"), step("upsell", "/x", optional=True), step("pay", "/pay")]
    )
    # /x appears only after /pay: taking it would leave /pay unreachable.
    assert run(definition, [page("/cart", 0), page("/pay", 1), page("/x", 2)]).status == "converted"


def test_one_event_fills_at_most_one_step():
    definition = journey([step("a", "/same"), step("b", "/same")])
    assert run(definition, [page("/same", 0)]).status == "bounced"
    assert run(definition, [page("/same", 0), page("/same", 1)]).status == "converted"


def test_a_step_at_the_same_timestamp_counts_whatever_its_session_order():
    # analytics.md: each step "at or after the previous matched step" (time, not order).
    two = journey([step("cart", "/cart"), step("pay", "/pay")])
    tied = [page("/pay", 1), page("/cart", 1)]  # pay comes first in session order
    found = run(two, tied)
    assert (found.status, found.converted_at) == ("converted", T0 + timedelta(minutes=1))
    entered = journey(
        [step("cart", "/cart")], entry=[{"field": "page.path", "op": "eq", "value": "/shop"}]
    )
    assert run(entered, [page("/cart", 0), page("/shop", 0)]).status == "converted"
    exits = journey(
        [step("cart", "/cart"), step("pay", "/pay")],
        exit=[{"field": "event.type", "op": "eq", "value": "journey.conversion"}],
    )
    done = [{**page("/x", 0), "event.type": "journey.conversion"}, page("/cart", 0)]
    assert run(exits, done).status == "converted"


def test_one_event_never_fills_two_steps_even_at_one_timestamp():
    twice = journey([step("first", "/cart"), step("second", "/cart")])
    assert run(twice, [page("/cart", 1)]).status == "bounced"
    assert run(twice, [page("/cart", 1), page("/cart", 1)]).status == "converted"
    assert run(CHECKOUT, [page("/shipping", 2), page("/cart", 2), page("/pay", 2)]).status == (
        "converted"
    )
