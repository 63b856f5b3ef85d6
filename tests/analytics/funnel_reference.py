"""A brute-force funnel written from analytics.md's definition: the tests' oracle.

Nothing here is shared with the stores (`analytics.stores`) except the condition evaluator
(`journeys.conditions.matches`): every chain of every unit is enumerated, checked against
the definition word for word, and the counted chain is picked by sorting.

- A chain is a list of distinct events e1..ek of one unit where ei matches step i,
  timestamps are non-decreasing, tk - t1 <= window and t1 lies in [date_from, date_to).
- An exclusion {match, from_step, to_step} breaks a chain when an event of the unit
  matching it lies strictly between the chain's from_step and to_step timestamps (a chain
  shorter than to_step has no to_step: the exclusion does not apply to it).
- A unit counts at step k if it has a valid chain of length k.
- The counted chain: among the valid chains of maximal length, the smallest by
  (t1, t2, ...), then by (event_id1, event_id2, ...).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from journeys.conditions import matches


@dataclass(frozen=True)
class RefEvent:
    """One event as the reference sees it: its wire dict and parsed timestamp."""

    event_id: str
    timestamp: datetime
    wire: Mapping[str, Any]


@dataclass(frozen=True)
class RefStep:
    """Expected numbers of one step in one bucket."""

    count: int
    median_from_previous: timedelta | None


def parse(wire: Mapping[str, Any]) -> RefEvent:
    """Wrap a wire event (`event.timestamp` as RFC 3339 with a Z)."""
    moment = datetime.fromisoformat(wire["event.timestamp"].replace("Z", "+00:00"))
    return RefEvent(event_id=wire["event_id"], timestamp=moment, wire=wire)


def unit_of(event: RefEvent, unit: str) -> str | None:
    """The unit: the session id, or a non-empty user.id falling back to user.anonymous_id."""
    if unit == "session":
        return event.wire["session.id"]
    return event.wire.get("user.id") or event.wire.get("user.anonymous_id") or None


def _chains(events: Sequence[RefEvent], steps: Sequence[Any]) -> Iterator[tuple[RefEvent, ...]]:
    """Every list of distinct events matching steps 1..k in non-decreasing time, any k."""

    def extend(chain: tuple[RefEvent, ...]) -> Iterator[tuple[RefEvent, ...]]:
        yield chain
        if len(chain) == len(steps):
            return
        for event in events:
            if (
                event not in chain
                and event.timestamp >= chain[-1].timestamp
                and matches(steps[len(chain)], event.wire)
            ):
                yield from extend((*chain, event))

    for first in events:
        if matches(steps[0], first.wire):
            yield from extend((first,))


def _valid(
    chain: tuple[RefEvent, ...],
    *,
    unit_events: Sequence[RefEvent],
    window: timedelta,
    date_from: datetime,
    date_to: datetime,
    exclusions: Sequence[Mapping[str, Any]],
) -> bool:
    if not date_from <= chain[0].timestamp < date_to:
        return False
    if chain[-1].timestamp - chain[0].timestamp > window:
        return False
    for exclusion in exclusions:
        if exclusion["to_step"] > len(chain):
            continue
        start = chain[exclusion["from_step"] - 1].timestamp
        end = chain[exclusion["to_step"] - 1].timestamp
        if any(
            start < event.timestamp < end and matches(exclusion["match"], event.wire)
            for event in unit_events
        ):
            return False
    return True


def median(values: list[int]) -> timedelta | None:
    """The median of microsecond values as a timedelta (half microseconds round to even)."""
    if not values:
        return None
    return timedelta(microseconds=round(statistics.median(values)))


def bucket_key(value: Any) -> tuple[str, Any]:
    """A dict key that keeps `true` apart from `1` (JSON values compare by type too)."""
    return (type(value).__name__ if isinstance(value, bool) else "value", value)


def reference_funnel(
    wires: Sequence[Mapping[str, Any]],
    *,
    steps: Sequence[Any],
    date_from: datetime,
    date_to: datetime,
    window: timedelta,
    unit: str = "session",
    breakdown: str | None = None,
    exclusions: Sequence[Mapping[str, Any]] = (),
) -> dict[tuple[str, Any], list[RefStep]]:
    """Expected steps per breakdown bucket (`bucket_key(value)`; one `None` bucket without
    a breakdown). Buckets that no unit reaches step 1 in are absent."""
    units: dict[str, list[RefEvent]] = {}
    for wire in wires:
        event = parse(wire)
        key = unit_of(event, unit)
        if key is not None:
            units.setdefault(key, []).append(event)
    counted: list[tuple[RefEvent, ...]] = []
    for unit_events in units.values():
        valid = [
            chain
            for chain in _chains(unit_events, steps)
            if _valid(
                chain,
                unit_events=unit_events,
                window=window,
                date_from=date_from,
                date_to=date_to,
                exclusions=exclusions,
            )
        ]
        if not valid:
            continue
        longest = max(len(chain) for chain in valid)
        counted.append(
            min(
                (chain for chain in valid if len(chain) == longest),
                key=lambda chain: (
                    tuple(event.timestamp for event in chain),
                    tuple(event.event_id for event in chain),
                ),
            )
        )
    buckets: dict[tuple[str, Any], list[tuple[RefEvent, ...]]] = {}
    for chain in counted:
        value = chain[0].wire.get(breakdown) if breakdown is not None else None
        buckets.setdefault(bucket_key(value), []).append(chain)
    expected: dict[tuple[str, Any], list[RefStep]] = {}
    for bucket, chains in buckets.items():
        expected[bucket] = [
            RefStep(
                count=sum(1 for chain in chains if len(chain) > index),
                median_from_previous=None
                if index == 0
                else median(
                    [
                        (chain[index].timestamp - chain[index - 1].timestamp)
                        // timedelta(microseconds=1)
                        for chain in chains
                        if len(chain) > index
                    ]
                ),
            )
            for index in range(len(steps))
        ]
    return expected
