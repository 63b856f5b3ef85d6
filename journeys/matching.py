"""Match one session's events against one journey. Pure: no database, no clock.

Semantics (analytics.md, with the decisions the spec leaves open):

- The session **enters** at its first event matching `entry`, or, when `entry` is empty, at
  its first event matching step 1 (which then also reaches step 1).
- Steps are matched in order, each by the first event in session order (timestamp,
  sequence, arrival) at or after the previous matched step's timestamp: an event of the
  same timestamp counts even if it comes earlier in session order (analytics.md: "each at
  or after the previous matched step"); one event fills at most one step, and the entry
  event may fill step 1. An event tagged `gen_ai.journey.id` = the journey's key and
  `gen_ai.journey.step.id` = a step's id matches that step directly. Optional steps may be
  skipped; the assignment reaching the most required steps, earliest, is kept.
- **converted**: every required step reached, or an `exit` event seen at or after entering
  (the entering event itself counts), within `timeout_minutes` of entering. `converted_at`
  is that moment.
- **abandoned**: not converted, and the journey stalled longer than the timeout: the next
  matched step (or the conversion) came too late, or the session's later events went on
  past the timeout without progress.
- The status is a function of the events and of whether the session is active, never of
  the time it is computed (analytics.md: re-running gives the same rows): a session that
  simply goes quiet is `pending` until it ends, then `bounced` or `dropped`.
- **pending**: not converted, not abandoned, and the session is still active.
- **bounced**: the session ended having reached only the entry / the first step.
- **dropped**: the session ended mid-journey.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from journeys.conditions import Predicate, compile_conditions
from journeys.definitions import JourneyDefinition, Step

Event = Mapping[str, Any]
TIMESTAMP = "event.timestamp"


@dataclass(frozen=True)
class JourneyMatch:
    """Where a session stands in a journey."""

    status: str
    entered_at: datetime
    last_step_index: int  # -1: entered, no step reached
    last_step_id: str
    converted_at: datetime | None
    duration_ms: int


def _step_predicate(step: Step, key: str) -> Predicate:
    match = compile_conditions(step.match)

    def step_matches(event: Event) -> bool:
        if event.get("gen_ai.journey.id") == key and event.get("gen_ai.journey.step.id") == step.id:
            return True
        return match(event)

    return step_matches


def _group_starts(events: Sequence[Event]) -> list[int]:
    """For each position, the first position holding the same timestamp (events are sorted)."""
    starts: list[int] = []
    for position, event in enumerate(events):
        same = position and event[TIMESTAMP] == events[position - 1][TIMESTAMP]
        starts.append(starts[-1] if same else position)
    return starts


def _assign(
    steps: Sequence[Step],
    predicates: Sequence[Predicate],
    events: Sequence[Event],
    group_start: Sequence[int],
    start: int,
    first: int,
    used: frozenset[int] = frozenset(),
) -> list[tuple[int, int]]:
    """Best (step index, event position) pairs for steps >= `first`, events >= `start`.

    Each step takes its first matching event, in session order, at or after the previous
    step's timestamp (an event of the same timestamp earlier in session order included),
    never an event `used` by an earlier step; an optional step is skipped when skipping it
    reaches more required steps, or as many reached earlier (taking it must never delay a
    conversion). `group_start` is `_group_starts(events)`. Memoised on (start, used events
    of that timestamp, step).
    """
    memo: dict[tuple[int, frozenset[int], int], list[tuple[int, int]]] = {}

    def best(start: int, used: frozenset[int], index: int) -> list[tuple[int, int]]:
        if index == len(steps):
            return []
        key = (start, used, index)
        if key in memo:
            return memo[key]
        step, step_matches = steps[index], predicates[index]
        position = next(
            (p for p in range(start, len(events)) if p not in used and step_matches(events[p])),
            None,
        )
        if position is None:
            result = best(start, used, index + 1) if step.optional else []
        else:
            after = group_start[position]  # the next step may share this timestamp
            taken = frozenset(p for p in used if p >= after) | {position}
            result = [(index, position), *best(after, taken, index + 1)]
            if step.optional:
                skipped = best(start, used, index + 1)
                if _rank(steps, skipped) < _rank(steps, result):
                    result = skipped
        memo[key] = result
        return result

    return best(start, used, first)


def _rank(steps: Sequence[Step], assignment: list[tuple[int, int]]) -> tuple[int, int]:
    """Smaller is better: more required steps reached, then the last of them earlier."""
    required = [position for index, position in assignment if not steps[index].optional]
    return (-len(required), max(required, default=-1))


def match_session(
    definition: JourneyDefinition,
    events: Sequence[Event],
    *,
    session_active: bool,
    last_event_at: datetime | None = None,
) -> JourneyMatch | None:
    """Return the session's place in the journey, or None if it never entered.

    `events` may leave out events that match no condition of the journey, if
    `last_event_at` gives the session's last event time. The answer depends only on the
    events and on whether the session is active, never on when it is computed.
    """
    steps = definition.steps
    predicates = [_step_predicate(step, definition.key) for step in steps]
    timeout = timedelta(minutes=definition.timeout_minutes)
    group_start = _group_starts(events)
    if definition.entry:
        entry = compile_conditions(definition.entry)
        entry_at = next((p for p, e in enumerate(events) if entry(e)), None)
        if entry_at is None:
            return None
        since = group_start[entry_at]  # at or after entering: its timestamp on
        assignment = _assign(steps, predicates, events, group_start, since, 0)
    else:
        entry_at = next((p for p, e in enumerate(events) if predicates[0](e)), None)
        if entry_at is None:
            return None
        since = group_start[entry_at]
        taken = frozenset({entry_at})
        assignment = [
            (0, entry_at),
            *_assign(steps, predicates, events, group_start, since, 1, taken),
        ]
    entered_at: datetime = events[entry_at][TIMESTAMP]
    required = [index for index, step in enumerate(steps) if not step.optional]
    reached = {index for index, _ in assignment}
    progress_times = [entered_at] + [events[p][TIMESTAMP] for _, p in assignment]

    converted_at = None
    if all(index in reached for index in required):
        converted_at = max(events[p][TIMESTAMP] for index, p in assignment if index in required)
    exit_at = None
    if definition.exit:
        exit_matches = compile_conditions(definition.exit)
        exit_at = next((e[TIMESTAMP] for e in events[since:] if exit_matches(e)), None)
    if exit_at is not None and (converted_at is None or exit_at < converted_at):
        converted_at = exit_at
    last_index, last_id = -1, ""
    if assignment:
        last_index = max(index for index, _ in assignment)
        last_id = steps[last_index].id
    last_progress = max(progress_times)

    if converted_at is not None and converted_at - entered_at <= timeout:
        return JourneyMatch(
            "converted",
            entered_at,
            last_index,
            last_id,
            converted_at,
            _ms(converted_at - entered_at),
        )
    stalled = any(later - earlier > timeout for earlier, later in pairwise(progress_times))
    if last_event_at is None:
        last_event_at = events[-1][TIMESTAMP]
    if (
        stalled
        or converted_at is not None  # converted too late
        or last_event_at - last_progress > timeout  # the session went on without progress
    ):
        status = "abandoned"
    elif session_active:
        status = "pending"
    elif last_index <= 0:
        status = "bounced"
    else:
        status = "dropped"
    return JourneyMatch(
        status, entered_at, last_index, last_id, None, _ms(last_progress - entered_at)
    )


def _ms(delta: timedelta) -> int:
    return int(delta / timedelta(milliseconds=1))
