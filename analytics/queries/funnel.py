"""The ad hoc funnel (docs/reference/analytics.md, "Funnels"): the query and its result.

Semantics, as analytics.md defines them: a **chain** is distinct events e1..ek of one unit
where ei matches step i, timestamps non-decreasing (equal allowed), tk - t1 <= window and
t1 in [date_from, date_to). An exclusion {match, from_step, to_step} breaks a chain when an
event matching it lies strictly between the chain's from_step and to_step timestamps (a
chain shorter than to_step is not affected). A unit counts at step k if it has a valid chain
of length k. The **counted chain** is, among the valid chains of maximal length, the
smallest by (t1, t2, ...), then by (event_id1, event_id2, ...) (event ids compared by code
point); it gives the breakdown value (from e1; absent -> the null bucket) and the times
between steps. Decisions the spec leaves open: the user unit is a non-empty `user.id`, else a
non-empty `user.anonymous_id` (an event with neither is ignored), as sessions treat an empty
`user.id`; a step or an exclusion needs at least one condition.

A store computes it (`analytics.stores`); `tests/analytics/funnel_reference.py` is the
brute-force oracle every store is compared with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from analytics.errors import QueryError
from ingestion.catalog import BY_KEY
from journeys.conditions import MAX_FIELD_LENGTH, validate_conditions

Unit = Literal["session", "user"]
UNITS: tuple[str, ...] = ("session", "user")
MIN_STEPS = 2
MAX_STEPS = 20
MAX_EXCLUSIONS = 10
DEFAULT_WINDOWS: dict[str, timedelta] = {
    "session": timedelta(minutes=30),
    "user": timedelta(days=14),
}
_EXCLUSION_KEYS = frozenset({"match", "from_step", "to_step"})


@dataclass(frozen=True)
class FunnelExclusion:
    """Units hitting an event matching `match` strictly between two steps stop at from_step.

    Steps are numbered from 1, as users see them.
    """

    match: Any
    from_step: int
    to_step: int


@dataclass(frozen=True)
class FunnelStep:
    """One step of one bucket; percentages are 0-100 (None where the base is zero)."""

    step: int
    count: int
    conversion_from_first: float | None
    conversion_from_previous: float | None
    drop_off: int | None
    median_time_from_previous: timedelta | None


@dataclass(frozen=True)
class FunnelBucket:
    """The steps of one breakdown value (or of every unit, for the overall bucket)."""

    value: Any
    steps: list[FunnelStep]

    def __str__(self) -> str:
        """Render as analytics.md does: `1: 10,000 (100 %) → 2: 7,500 (75 %) → ...`."""
        parts = []
        for step in self.steps:
            share = step.conversion_from_first
            parts.append(
                f"{step.step}: {step.count:,}"
                + (f" ({round(share, 1):g} %)" if share is not None else "")
            )
        return " → ".join(parts)

    @classmethod
    def of(
        cls, value: Any, counts: Sequence[int], medians_us: Sequence[float | None]
    ) -> FunnelBucket:
        """A bucket from each step's count and the median µs from the previous step (2..n)."""
        steps = []
        for index, count in enumerate(counts):
            previous = counts[index - 1] if index else None
            median = medians_us[index - 1] if index else None
            steps.append(
                FunnelStep(
                    step=index + 1,
                    count=count,
                    conversion_from_first=_percent(count, counts[0]),
                    conversion_from_previous=None
                    if previous is None
                    else _percent(count, previous),
                    drop_off=None if previous is None else previous - count,
                    median_time_from_previous=None
                    if median is None
                    else timedelta(microseconds=round(median)),
                )
            )
        return cls(value=value, steps=steps)


@dataclass(frozen=True)
class FunnelResult:
    """Every unit's numbers (`overall`) and, with a breakdown, one bucket per value.

    `buckets` holds the single overall bucket when there is no breakdown; otherwise the
    values in descending order of step-1 count (then ascending value, null last).
    """

    overall: FunnelBucket
    buckets: list[FunnelBucket]
    breakdown: str | None = None


def _percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _value_order(bucket: FunnelBucket) -> tuple[int, bool, str]:
    value = bucket.value
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return (-bucket.steps[0].count, value is None, text)


def _exclusion(raw: Any) -> FunnelExclusion | None:
    if isinstance(raw, FunnelExclusion):
        return raw
    if isinstance(raw, Mapping) and set(raw) == _EXCLUSION_KEYS:
        return FunnelExclusion(
            match=raw["match"], from_step=raw["from_step"], to_step=raw["to_step"]
        )
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def event_types(conditions: Any) -> set[str] | None:
    """The event types a validated condition tree can match, or None when not restricted."""
    if isinstance(conditions, list):
        restricted = [found for item in conditions if (found := event_types(item)) is not None]
        return set.intersection(*restricted) if restricted else None
    if "any" in conditions:
        branches = [event_types(item) for item in conditions["any"]]
        if any(branch is None for branch in branches):
            return None
        return set().union(*branches)  # type: ignore[arg-type]
    if conditions["field"] == "event.type" and conditions["op"] in ("eq", "in"):
        values = conditions["value"] if conditions["op"] == "in" else [conditions["value"]]
        return {value for value in values if isinstance(value, str)}
    return None


@dataclass(frozen=True)
class FunnelQuery:
    """An ad hoc funnel over one project's events (see the module docstring).

    The org is not a field: a store scopes every query by the org of the caller's context.
    """

    project_id: int
    steps: Sequence[Any]
    date_from: datetime
    date_to: datetime
    window: timedelta | None = None
    unit: str = "session"
    breakdown: str | None = None
    exclusions: Sequence[FunnelExclusion | Mapping[str, Any]] = field(default_factory=tuple)

    @property
    def conversion_window(self) -> timedelta:
        """The window, or the unit's default (30 minutes per session, 14 days per user)."""
        if self.window is not None:
            return self.window
        return DEFAULT_WINDOWS.get(self.unit, DEFAULT_WINDOWS["session"])

    def validate(self) -> None:
        """Raise QueryError listing every problem of the query."""
        errors: list[str] = []
        if not _is_int(self.project_id) or self.project_id <= 0:
            errors.append("project_id: must be a positive integer")
        if not isinstance(self.steps, Sequence) or isinstance(self.steps, str):
            errors.append("steps: must be a list of condition lists")
            steps: Sequence[Any] = ()
        else:
            steps = self.steps
            if not MIN_STEPS <= len(steps) <= MAX_STEPS:
                errors.append(
                    f"steps: a funnel has {MIN_STEPS} to {MAX_STEPS} steps, not {len(steps)}"
                )
        for index, step in enumerate(steps):
            errors += self._condition_errors(step, f"steps[{index}]")
        for name in ("date_from", "date_to"):
            moment = getattr(self, name)
            if not isinstance(moment, datetime) or moment.utcoffset() is None:
                errors.append(f"{name}: must be a timezone-aware datetime")
        dates_ok = not any(error.startswith("date_") for error in errors)
        if dates_ok and self.date_from >= self.date_to:
            errors.append("date_to: must be after date_from")
        if self.unit not in UNITS:
            errors.append(f"unit: unknown unit {self.unit!r}; use one of {', '.join(UNITS)}")
        if self.window is not None and (
            not isinstance(self.window, timedelta) or self.window <= timedelta(0)
        ):
            errors.append("window: must be a positive duration")
        elif dates_ok and self.unit in UNITS:
            try:
                self.date_to + self.conversion_window
            except OverflowError:
                errors.append("window: too long for date_to")
        errors += self._breakdown_errors()
        errors += self._exclusion_errors(len(steps))
        if errors:
            raise QueryError(errors)

    @staticmethod
    def _condition_errors(conditions: Any, path: str) -> list[str]:
        if not isinstance(conditions, list) or not conditions:
            return [f"{path}: must be a non-empty list of conditions"]
        return validate_conditions(conditions, path)

    def _breakdown_errors(self) -> list[str]:
        breakdown = self.breakdown
        if breakdown is None:
            return []
        if not isinstance(breakdown, str) or not breakdown or len(breakdown) > MAX_FIELD_LENGTH:
            return ["breakdown: must be an event key (a non-empty string)"]
        if breakdown in BY_KEY and BY_KEY[breakdown].kind == "timestamp":
            return [f"breakdown: {breakdown} is a timestamp; break down by another field"]
        return []

    def _exclusion_errors(self, n_steps: int) -> list[str]:
        if not isinstance(self.exclusions, Sequence) or isinstance(self.exclusions, str):
            return ["exclusions: must be a list"]
        errors: list[str] = []
        if len(self.exclusions) > MAX_EXCLUSIONS:
            errors.append(f"exclusions: at most {MAX_EXCLUSIONS}, not {len(self.exclusions)}")
        for index, raw in enumerate(self.exclusions):
            path = f"exclusions[{index}]"
            exclusion = _exclusion(raw)
            if exclusion is None:
                errors.append(f"{path}: must have exactly the keys from_step, match, to_step")
                continue
            errors += self._condition_errors(exclusion.match, f"{path}.match")
            bounds_ok = True
            for name in ("from_step", "to_step"):
                number = getattr(exclusion, name)
                if not _is_int(number) or not 1 <= number <= max(n_steps, 1):
                    errors.append(f"{path}.{name}: must be a step number from 1 to {n_steps}")
                    bounds_ok = False
            if bounds_ok and exclusion.from_step >= exclusion.to_step:
                errors.append(f"{path}: from_step must come before to_step")
        return errors

    def normalized_exclusions(self) -> list[FunnelExclusion]:
        """The exclusions as `FunnelExclusion`s (the query must be valid)."""
        return [exclusion for raw in self.exclusions if (exclusion := _exclusion(raw))]

    def breakdown_is_json(self) -> bool:
        """Is the breakdown value a JSON value (an attribute or a json catalog field)?"""
        breakdown = self.breakdown
        return breakdown is not None and (
            breakdown not in BY_KEY or BY_KEY[breakdown].kind in ("json", "object")
        )

    def scanned_types(self) -> set[str] | None:
        """The event types every candidate event has (None: any type can be a candidate)."""
        matchers = [*self.steps, *(exclusion.match for exclusion in self.normalized_exclusions())]
        scanned: set[str] | None = set()
        for conditions in matchers:
            found = event_types(conditions)
            scanned = None if found is None or scanned is None else scanned | found
        return scanned

    def result(self, overall: FunnelBucket, buckets: list[FunnelBucket]) -> FunnelResult:
        """The result of this query from a store's buckets, in the documented order."""
        if self.breakdown is None:
            return FunnelResult(overall=overall, buckets=[overall])
        return FunnelResult(
            overall=overall, buckets=sorted(buckets, key=_value_order), breakdown=self.breakdown
        )
