"""Ad hoc funnels (analytics.md, "Funnels"): a typed query, its validation, its SQL, its run.

`FunnelQuery.validate()` raises `DefinitionError` listing every problem; `to_sql()` is pure
(`(sql, params)`, every value a parameter); `run()` executes it in the caller's transaction
and org context, under a statement timeout, and returns a `FunnelResult`.

Semantics, word for word from analytics.md: a **chain** is distinct events e1..ek of one unit
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

How the SQL computes it. The candidates are the project's events in [date_from, date_to +
window) matching a step or an exclusion (nothing outside can be in a chain or between two of
its events), each with a bit mask of the steps it matches (step 1 only inside the date
range) and one of the exclusions. Per unit they are aggregated into arrays ordered by
(timestamp, event_id). A unit with no event matching step 2 reaches step 1 only, with its
first step-1 event: plain aggregates, no function call. Any other unit goes through
`productgraph_funnel_chain`, a PL/pgSQL function (created in `pg_temp` by `run()`):

- Group events by timestamp. Think of a chain as a non-decreasing choice of groups
  g1 <= ... <= gk, the steps sharing a group needing distinct events of it (a bipartite
  matching: `productgraph_funnel_match`). Every other rule is a monotone lower bound of an
  earlier step's group by a later one's: the window (t1 >= tk - window), each exclusion
  (t_from >= the last exclusion event before t_to). So the valid chains of length k are
  closed under the pointwise minimum, and their least element, the pointwise-earliest
  chain, is exactly the lexicographically earliest one.
- It is computed as the least fixed point of those bounds: start every step at the first
  group, push each step to the first group at or after its predecessor's that can hold it,
  raise step 1 to the window and from_steps past exclusion events, repeat until nothing
  moves (or a step runs off the end: no chain of length k). Length k + 1 starts from length
  k's answer, which is a lower bound of it; the last k that succeeds is the unit's maximal
  length, its groups the counted chain's timestamps, and e1 the smallest event id of the
  first group that leaves a matching for the other steps of that group.

A large funnel runs as one `UNION ALL` branch per parallel worker, the units split by a
hash, so that the per-unit work runs on every core (`FunnelQuery._plan`, ADR 0005).

The tests compare all of this with a brute-force enumeration of chains on generated data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg.errors
from django.db import DatabaseError, connection, transaction

from ingestion.catalog import BY_KEY
from journeys.conditions import MAX_FIELD_LENGTH, DefinitionError, to_sql, validate_conditions
from productgraph.tenancy.context import OrgContextError

Unit = Literal["session", "user"]
UNITS: tuple[str, ...] = ("session", "user")
MIN_STEPS = 2
MAX_STEPS = 20
MAX_EXCLUSIONS = 10
DEFAULT_WINDOWS: dict[str, timedelta] = {
    "session": timedelta(minutes=30),
    "user": timedelta(days=14),
}
DEFAULT_TIMEOUT = timedelta(seconds=30)
# Each branch sorts its own candidates: ~590,000 rows, 81 MB, for bench/funnel.py's stress
# funnel (10 million events), which spilled to disk with 64 MB (the default 4 MB spilled
# any large funnel). Transaction-local, restored after the query; one sort per branch, so
# a funnel may hold up to `branches` x 128 MB while it runs.
WORK_MEM = "128MB"
# A funnel whose serial plan costs less per branch than this (planner units; ~30 ms on the
# bench machine) runs as one branch: starting workers would cost more than they save.
SPLIT_MIN_COST = 10_000
# Every branch scans all candidate rows: more branches than cores cost more than they save
# (3 and 4 branches on 2 cores: 1.03 and 1.32 s against 0.83 s for 2).
MAX_BRANCHES = 8
_MICROSECOND = timedelta(microseconds=1)
_EXCLUSION_KEYS = frozenset({"match", "from_step", "to_step"})

CHAIN_FUNCTION = "pg_temp.productgraph_funnel_chain"
_CHAIN_SIGNATURE = (
    f"{CHAIN_FUNCTION}(timestamptz[], integer[], integer[], integer, interval,"
    " integer[], integer[])"
)

# Temporary functions: no migration, one definition per connection, and nothing for another
# role to replace (pg_temp is private to the session). PARALLEL SAFE: a parallel worker
# knows its leader's temporary schema, so the branches of `FunnelQuery._plan` call them in
# the workers (what a worker cannot use is a temporary table, not a temporary function).
CHAIN_FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION pg_temp.productgraph_funnel_match(
    masks integer[], first_event integer, last_event integer, skip integer,
    first_step integer, last_step integer
) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
-- Can steps first_step..last_step each take a distinct event among first_event..last_event
-- (never `skip`) whose mask has the step's bit? Augmenting paths, breadth first.
DECLARE
    size integer := last_event - first_event + 1;
    holder integer[] := array_fill(NULL::integer, ARRAY[size]);  -- step holding each event
    taken integer[] := array_fill(NULL::integer, ARRAY[last_step]);  -- event of each step
    came integer[];  -- the step that reached each event in the current search
    queue integer[];
    head integer;
    root integer;
    q integer;
    v integer;
    w integer;
    free_event integer;
BEGIN
    FOR root IN first_step..last_step LOOP
        came := array_fill(NULL::integer, ARRAY[size]);
        queue := ARRAY[root];
        head := 1;
        free_event := NULL;
        WHILE free_event IS NULL AND head <= cardinality(queue) LOOP
            q := queue[head];
            head := head + 1;
            FOR v IN first_event..last_event LOOP
                CONTINUE WHEN v = skip OR masks[v] & (1 << (q - 1)) = 0
                    OR came[v - first_event + 1] IS NOT NULL;
                came[v - first_event + 1] := q;
                IF holder[v - first_event + 1] IS NULL THEN
                    free_event := v;
                    EXIT;
                END IF;
                queue := queue || holder[v - first_event + 1];
            END LOOP;
        END LOOP;
        IF free_event IS NULL THEN
            RETURN false;
        END IF;
        v := free_event;
        LOOP  -- flip the path: each step on it takes the event that reached it
            q := came[v - first_event + 1];
            w := taken[q];
            holder[v - first_event + 1] := q;
            taken[q] := v;
            EXIT WHEN q = root;
            v := w;
        END LOOP;
    END LOOP;
    RETURN true;
END
$fn$;

CREATE OR REPLACE FUNCTION pg_temp.productgraph_funnel_chain(
    ts timestamptz[], masks integer[], xmasks integer[], n_steps integer, win interval,
    x_from integer[], x_to integer[]
) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
-- One unit's events, ordered by (timestamp, event_id): `ts`, `masks` (bit
-- j - 1: matches step j; step 1 only inside the date range), `xmasks` (bit e - 1: matches
-- exclusion e, from step x_from[e] to step x_to[e]). Returns ARRAY[k, o, t1, ..., tk]: the
-- maximal chain length k, the ordinal o of the counted chain's e1 among the step-1 events,
-- and the counted chain's timestamps in microseconds since the epoch (ARRAY[0] when no
-- chain starts in the date range). Timestamps stay timestamptz up to there: an epoch
-- conversion per candidate event cost ~0.5 s of numeric arithmetic on 1.2 million rows.
DECLARE
    reached integer := 0;
    first_ordinal integer := 0;
    result bigint[];
    n integer := cardinality(ts);
    n_x integer := coalesce(cardinality(x_from), 0);
    lo integer[] := '{}';  -- lo[j]: first event of the earliest group step j can be in
    best integer[];
    k integer;
    j integer;
    g integer;
    i integer;
    r integer;
    e integer;
    a integer;
    bit integer;
    last_event integer;
    dirty integer;
    ok boolean;
    moved boolean;
BEGIN
    -- Fast path, no exclusions and no two events at one timestamp before the chain ends:
    -- then the greedy chain (each step at the first event after the previous step's) is
    -- the pointwise-earliest chain and, ignoring the window, a longest one; when it also
    -- fits in the window it is the counted chain, and e1 is the first step-1 event.
    IF n_x = 0 THEN
        k := 1;
        bit := 1;
        FOR i IN 1..n LOOP
            IF i > 1 AND ts[i] = ts[i - 1] THEN
                k := 0;  -- a tie: the general computation below
                EXIT;
            END IF;
            IF masks[i] & bit <> 0 THEN
                lo[k] := i;
                EXIT WHEN k = n_steps;
                k := k + 1;
                bit := bit << 1;
            END IF;
        END LOOP;
        IF k > 0 THEN
            reached := cardinality(lo);
            IF reached = 0 THEN
                RETURN ARRAY[0];
            END IF;
            IF ts[lo[reached]] - ts[lo[1]] <= win THEN
                result := ARRAY[reached, 1];
                FOR j IN 1..reached LOOP
                    result[j + 2] := (EXTRACT(EPOCH FROM ts[lo[j]]) * 1000000)::bigint;
                END LOOP;
                RETURN result;
            END IF;
            reached := 0;
        END IF;
        lo := '{}';
    END IF;
    FOR k IN 1..n_steps LOOP
        lo[k] := CASE WHEN k = 1 THEN 1 ELSE lo[k - 1] END;
        ok := true;
        dirty := k;  -- steps before `dirty` are where the last pass left them
        LOOP
            -- Forward: each step into the first group at or after its predecessor's that
            -- has an event for it (distinct events when steps share the group).
            FOR j IN dirty..k LOOP
                g := CASE WHEN j > 1 AND lo[j - 1] > lo[j] THEN lo[j - 1] ELSE lo[j] END;
                bit := 1 << (j - 1);
                LOOP
                    i := g;
                    WHILE i <= n AND masks[i] & bit = 0 LOOP
                        i := i + 1;
                    END LOOP;
                    IF i > n THEN
                        ok := false;
                        EXIT;
                    END IF;
                    IF ts[i] <> ts[g] THEN
                        g := i;
                        WHILE ts[g - 1] = ts[i] LOOP
                            g := g - 1;
                        END LOOP;
                    END IF;
                    EXIT WHEN j = 1 OR g <> lo[j - 1];
                    r := j - 1;
                    WHILE r > 1 AND lo[r - 1] = g LOOP
                        r := r - 1;
                    END LOOP;
                    last_event := g;
                    WHILE last_event < n AND ts[last_event + 1] = ts[g] LOOP
                        last_event := last_event + 1;
                    END LOOP;
                    EXIT WHEN pg_temp.productgraph_funnel_match(masks, g, last_event, 0, r, j);
                    g := last_event + 1;
                    IF g > n THEN
                        ok := false;
                        EXIT;
                    END IF;
                END LOOP;
                EXIT WHEN NOT ok;
                lo[j] := g;
            END LOOP;
            EXIT WHEN NOT ok;
            moved := false;
            -- Backward: the window raises step 1 (tk - t1 <= win as a duration, as in the
            -- fast path: `ts - win` would count calendar days in the session's time zone) ...
            IF ts[lo[k]] - ts[lo[1]] > win THEN
                i := lo[1];
                WHILE ts[lo[k]] - ts[i] > win LOOP
                    i := i + 1;
                END LOOP;
                lo[1] := i;
                moved := true;
                dirty := 1;
            END IF;
            -- ... and an exclusion event strictly between from_step and to_step raises
            -- from_step to it.
            FOR e IN 1..n_x LOOP
                CONTINUE WHEN x_to[e] > k;
                a := x_from[e];
                bit := 1 << (e - 1);
                i := lo[x_to[e]] - 1;
                WHILE i >= 1 AND ts[i] > ts[lo[a]] AND xmasks[i] & bit = 0 LOOP
                    i := i - 1;
                END LOOP;
                IF i >= 1 AND ts[i] > ts[lo[a]] THEN
                    WHILE ts[i - 1] = ts[i] LOOP
                        i := i - 1;
                    END LOOP;
                    lo[a] := i;
                    moved := true;
                    dirty := least(dirty, a);
                END IF;
            END LOOP;
            EXIT WHEN NOT moved;
        END LOOP;
        EXIT WHEN NOT ok;
        reached := k;
        best := lo;
    END LOOP;
    IF reached = 0 THEN
        RETURN ARRAY[0];
    END IF;
    result := ARRAY[reached, 0];
    FOR j IN 1..reached LOOP
        result[j + 2] := (EXTRACT(EPOCH FROM ts[best[j]]) * 1000000)::bigint;
    END LOOP;
    -- e1: the smallest event id of the first group leaving a matching for the group's
    -- other steps (events of a group are in event_id order).
    g := best[1];
    j := 1;
    WHILE j < reached AND best[j + 1] = g LOOP
        j := j + 1;
    END LOOP;
    last_event := g;
    WHILE last_event < n AND ts[last_event + 1] = ts[g] LOOP
        last_event := last_event + 1;
    END LOOP;
    FOR i IN 1..last_event LOOP
        CONTINUE WHEN masks[i] & 1 = 0;
        first_ordinal := first_ordinal + 1;
        IF i >= g AND (j = 1 OR pg_temp.productgraph_funnel_match(masks, g, last_event, i, 2, j))
        THEN
            result[2] := first_ordinal;
            RETURN result;
        END IF;
    END LOOP;
    RAISE EXCEPTION 'productgraph_funnel_chain: no first event for a reached step 1';
END
$fn$;
"""


class FunnelTimeout(DefinitionError):
    """The funnel ran longer than its statement timeout (narrow the range or the steps)."""


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


@dataclass(frozen=True)
class FunnelResult:
    """Every unit's numbers (`overall`) and, with a breakdown, one bucket per value.

    `buckets` holds the single overall bucket when there is no breakdown; otherwise the
    values in descending order of step-1 count (then ascending value, null last).
    """

    overall: FunnelBucket
    buckets: list[FunnelBucket]
    breakdown: str | None = None


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


def _event_types(conditions: Any) -> set[str] | None:
    """The event types a validated condition tree can match, or None when not restricted."""
    if isinstance(conditions, list):
        restricted = [found for item in conditions if (found := _event_types(item)) is not None]
        return set.intersection(*restricted) if restricted else None
    if "any" in conditions:
        branches = [_event_types(item) for item in conditions["any"]]
        if any(branch is None for branch in branches):
            return None
        return set().union(*branches)  # type: ignore[arg-type]
    if conditions["field"] == "event.type" and conditions["op"] in ("eq", "in"):
        values = conditions["value"] if conditions["op"] == "in" else [conditions["value"]]
        return {value for value in values if isinstance(value, str)}
    return None


def _without_type(conditions: list[Any], event_type: str | None) -> list[Any]:
    """The conditions without their top-level `event.type eq event_type` (ANDed) items."""
    if event_type is None:
        return conditions
    implied = {"field": "event.type", "op": "eq", "value": event_type}
    return [item for item in conditions if item != implied]


def _int_or_zero(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _microseconds(delta: timedelta) -> int:
    return delta // _MICROSECOND


def _percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _bucket(value: Any, counts: Sequence[int], medians: Sequence[float | None]) -> FunnelBucket:
    steps = []
    for index, count in enumerate(counts):
        previous = counts[index - 1] if index else None
        median = medians[index - 1] if index else None
        steps.append(
            FunnelStep(
                step=index + 1,
                count=count,
                conversion_from_first=_percent(count, counts[0]),
                conversion_from_previous=None if previous is None else _percent(count, previous),
                drop_off=None if previous is None else previous - count,
                median_time_from_previous=None
                if median is None
                else timedelta(microseconds=round(median)),
            )
        )
    return FunnelBucket(value=value, steps=steps)


def _value_order(bucket: FunnelBucket) -> tuple[int, bool, str]:
    value = bucket.value
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return (-bucket.steps[0].count, value is None, text)


@dataclass(frozen=True)
class FunnelQuery:
    """An ad hoc funnel over one project's events (see the module docstring)."""

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
        """Raise DefinitionError listing every problem of the query."""
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
            raise DefinitionError(errors)

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

    def _unit_sql(self) -> str:
        # Grouped bytewise: the database's default collation made the sort by unit compare
        # with strcoll and without abbreviated keys (equality is the same either way).
        if self.unit == "session":
            return 'e.session_id COLLATE "C"'
        return "COALESCE(NULLIF(e.user_id, ''), NULLIF(e.anonymous_id, '')) COLLATE \"C\""

    def _breakdown_is_json(self) -> bool:
        breakdown = self.breakdown
        return breakdown is not None and (
            breakdown not in BY_KEY or BY_KEY[breakdown].kind in ("json", "object")
        )

    def _breakdown_sql(self, params: list[Any]) -> str:
        breakdown = self.breakdown
        assert breakdown is not None  # noqa: S101 -- only called with one
        if breakdown in BY_KEY:
            spec = BY_KEY[breakdown]
            column = f"e.{spec.column}"  # from the catalog, never from input
            if spec.kind in ("json", "object"):
                return f"NULLIF({column}, 'null'::jsonb)"
            return column
        params.append(breakdown)
        return "NULLIF(e.attributes -> %s, 'null'::jsonb)"

    def _steps_mask_sql(self, params: list[Any], implied_type: str | None) -> str:
        """Bit i - 1 set when the event matches step i (step 1: before date_to only)."""
        bits = []
        for index, step in enumerate(self.steps):
            in_range = ""
            if index == 0:
                params.append(self.date_to)
                in_range = "e.timestamp < %s AND "
            matches = to_sql(_without_type(step, implied_type), params)
            bits.append(f"CASE WHEN ({in_range}{matches}) THEN {1 << index} ELSE 0 END")
        return "(" + "\n             | ".join(bits) + ")"

    def _exclusions_mask_sql(self, params: list[Any], implied_type: str | None) -> str:
        """Bit e - 1 set when the event matches exclusion e."""
        bits = [
            f"CASE WHEN {to_sql(_without_type(exclusion.match, implied_type), params)}"
            f" THEN {1 << index} ELSE 0 END"
            for index, exclusion in enumerate(self.normalized_exclusions())
        ]
        return "(" + "\n             | ".join(bits) + ")"

    def _scanned_types(self) -> set[str] | None:
        """The event types every candidate has (None: any type can be a candidate)."""
        matchers = [*self.steps, *(exclusion.match for exclusion in self.normalized_exclusions())]
        scanned: set[str] | None = set()
        for conditions in matchers:
            found = _event_types(conditions)
            scanned = None if found is None or scanned is None else scanned | found
        return scanned

    def to_sql(self, branches: int = 1) -> tuple[str, list[Any]]:
        """Return the funnel's SQL and its parameters (pure: validates, touches nothing).

        One row per bucket: [breakdown value, is the overall row,] then the count of each
        step, then the median microseconds from the previous step for steps 2..n. With
        `branches` > 1 the units are split by a hash of the unit into that many `UNION ALL`
        branches, each computing its own units' chains (see `_plan()` for why); the numbers
        are the same.
        """
        self.validate()
        if not _is_int(branches) or branches < 1:
            raise ValueError("branches must be a positive integer")
        steps = list(self.steps)
        exclusions = self.normalized_exclusions()
        window = self.conversion_window
        unit = self._unit_sql()
        params: list[Any] = []
        scanned = self._scanned_types()
        # With one event type scanned (the WHERE below), `event.type eq` it is true of every
        # candidate: dropped from the masks, which are computed twice per scanned event
        # (1.35 -> 1.08 s for bench/funnel.py's product_to_confirm).
        implied_type = next(iter(scanned)) if scanned is not None and len(scanned) == 1 else None

        # The chain call comes first in a branch's text, so its parameters do too.
        params += [
            len(steps),
            window,
            [exclusion.from_step for exclusion in exclusions],
            [exclusion.to_step for exclusion in exclusions],
        ]
        # The candidates' columns, in text order (so that the parameters follow it).
        columns = [
            f"{unit} AS unit",
            'e.event_id COLLATE "C" AS eid',
            "e.timestamp AS at",
            f"{self._steps_mask_sql(params, implied_type)} AS mask",
        ]
        if exclusions:
            columns.append(f"{self._exclusions_mask_sql(params, implied_type)} AS xmask")
        if self.breakdown is not None:
            columns.append(f"{self._breakdown_sql(params)} AS bd")

        params += [self.project_id, self.date_from, self.date_to + window]
        where = ["e.project_id = %s", "e.timestamp >= %s", "e.timestamp < %s"]
        if scanned is not None:
            # Implied by the conditions; lets the (org, project, event_type, timestamp) index in.
            params.append(sorted(scanned))
            where.append("e.event_type = ANY(%s)")
        if self.unit == "user":
            where.append(f"{unit} IS NOT NULL")
        # The masks again rather than an OR of the conditions: the planner estimates an OR of
        # conditions that repeat the event-type filter far too low (56,000 rows for 525,000
        # in bench/funnel.py) and picked a 2.7 s index scan over a 1.1 s sequential one; it
        # takes `mask <> 0` as barely selective and sizes the scan by the type filter alone.
        masks = self._steps_mask_sql(params, implied_type)
        if exclusions:
            masks += f" | {self._exclusions_mask_sql(params, implied_type)}"
        where.append(f"({masks}) <> 0")

        order = "ORDER BY at, eid"
        aggregates = [
            f"array_agg(at {order}) AS ts",
            f"array_agg(mask {order}) AS masks",
            f"array_agg(xmask {order}) AS xmasks" if exclusions else "NULL::integer[] AS xmasks",
            "bit_or(mask) AS seen",
        ]
        if self.breakdown is not None:
            aggregates.append(f"array_agg(bd {order}) FILTER (WHERE mask & 1 <> 0) AS bd")
        # A unit without a step-2 event reaches step 1 only, with its first step-1 event.
        call = f"{CHAIN_FUNCTION}(ts, masks, xmasks, %s, %s, %s, %s)"
        per_unit = [f"CASE WHEN seen & 2 <> 0 THEN {call} ELSE ARRAY[1, 1]::bigint[] END AS chain"]
        if self.breakdown is not None:
            per_unit.append("bd")  # the step-1 events' values: e1's is bd[chain[2]]
        outputs = ["count(*) AS step_1"]
        outputs += [
            f"count(*) FILTER (WHERE chain[1] >= {step}) AS step_{step}"
            for step in range(2, len(steps) + 1)
        ]
        outputs += [
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY chain[{step + 2}] - chain[{step + 1}])"
            f" FILTER (WHERE chain[1] >= {step}) AS median_{step}"
            for step in range(2, len(steps) + 1)
        ]
        grouping = ""
        if self.breakdown is not None:
            # jsonb as text, decoded in Python: Django's cursor leaves jsonb undecoded.
            first = "bd[chain[2]::integer]"
            value = f"{first}::text" if self._breakdown_is_json() else first
            outputs = [f"{value} AS value", f"GROUPING({first}) = 1 AS overall", *outputs]
            grouping = f"\nGROUP BY GROUPING SETS (({first}), ())"
        newline = ",\n       "
        conjunction = "\n      AND "

        def branch(index: int) -> str:
            # Every unit lands in exactly one branch (the unit is never NULL here: a session
            # id is required, and user units are filtered on IS NOT NULL).
            split = [f"mod(hashtext({unit}) & 2147483647, {branches}) = {index}"]
            # Only code and catalog column names are formatted in; every value is a parameter.
            return f"""SELECT {newline.join(per_unit)}
FROM (
    SELECT {newline.join(aggregates)}
    FROM (
        SELECT {newline.join(columns)}
        FROM ingestion_event e
        WHERE {conjunction.join(where + (split if branches > 1 else []))}
    ) candidates
    GROUP BY unit
    HAVING bit_or(mask) & 1 <> 0
) units{barrier}"""  # noqa: S608

        # One call per unit, however many times `chain` is read below: a lone subquery
        # needs OFFSET 0 not to be pulled up (its expression copied into each aggregate);
        # UNION ALL branches compute their output columns once each, and OFFSET 0 there
        # kept the planner from running them under a Parallel Append.
        barrier = "\nOFFSET 0" if branches == 1 else ""
        union = "\nUNION ALL\n".join(f"({branch(index)}\n)" for index in range(branches))
        sql = f"""SELECT {newline.join(outputs)}
FROM (
{union}
) chains{grouping}"""  # noqa: S608
        return sql, params * branches

    def run(
        self, *, timeout: timedelta = DEFAULT_TIMEOUT, branches: int | None = None
    ) -> FunnelResult:
        """Run the funnel in the caller's transaction and org context (RLS applies).

        The statement timeout, work_mem and parallel_setup_cost are set for the query only
        (transaction-local, restored after it); a timeout raises FunnelTimeout and leaves
        the caller's transaction usable. `branches` forces the number of branches (tests);
        by default `_plan` chooses.
        """
        return self._result(self._execute(timeout=timeout, branches=branches))

    def explain(self, *, timeout: timedelta = DEFAULT_TIMEOUT) -> list[str]:
        """EXPLAIN (ANALYZE, BUFFERS) of the statement `run()` would run, as `run()` runs it."""
        rows = self._execute(timeout=timeout, branches=None, prefix="EXPLAIN (ANALYZE, BUFFERS) ")
        return [row[0] for row in rows]

    def _execute(
        self, *, timeout: timedelta, branches: int | None, prefix: str = ""
    ) -> list[tuple[Any, ...]]:
        self.validate()
        if branches is not None and (not _is_int(branches) or branches < 1):
            raise ValueError("branches must be a positive integer")
        if not connection.in_atomic_block:
            raise OrgContextError("run a funnel inside transaction.atomic() and org_context()")
        milliseconds = max(1, _microseconds(timeout) // 1000)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_setting('statement_timeout'), current_setting('work_mem'),"
                    " current_setting('parallel_setup_cost'),"
                    " current_setting('max_parallel_workers_per_gather'),"
                    " NULLIF(current_setting('app.current_org_id', true), '') IS NOT NULL,"
                    " to_regprocedure(%s) IS NOT NULL",
                    [_CHAIN_SIGNATURE],
                )
                saved_timeout, saved_work_mem, saved_setup_cost, workers, has_org, has_function = (
                    cursor.fetchone()
                )
                if not has_org:
                    raise OrgContextError("run a funnel inside org_context()")
                if not has_function:
                    cursor.execute(CHAIN_FUNCTIONS_SQL)
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true),"
                    " set_config('work_mem', %s, true)",
                    [f"{milliseconds}ms", WORK_MEM],
                )
                sql, params = self._plan(cursor, workers=workers, branches=branches)
                cursor.execute(prefix + sql, params)
                rows = cursor.fetchall()
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true),"
                    " set_config('work_mem', %s, true),"
                    " set_config('parallel_setup_cost', %s, true)",
                    [saved_timeout, saved_work_mem, saved_setup_cost],
                )
        except DatabaseError as exc:
            if isinstance(exc.__cause__, psycopg.errors.QueryCanceled):
                raise FunnelTimeout(
                    [f"the funnel took longer than {timeout}; narrow the date range or steps"]
                ) from exc
            if isinstance(exc.__cause__, psycopg.errors.InvalidRegularExpression):
                # Validation rejects the syntax PostgreSQL reads differently; this is the
                # backstop for anything it missed: the caller's mistake, not a 5xx.
                raise DefinitionError([f"bad regex: {exc.__cause__}"]) from exc
            raise
        return rows

    def _plan(self, cursor: Any, *, workers: str, branches: int | None) -> tuple[str, list[Any]]:
        """The SQL to run, in branches when that pays, with parallel_setup_cost set for it.

        PostgreSQL runs a statement's grouping, and everything above it, in the leader
        process alone: the scan was parallel, but two thirds of the funnel's time (arrays,
        chain function, on 2 cores) ran on one core. Split by a hash of the unit into one
        `UNION ALL` branch per parallel worker, each branch is a whole serial plan (scan,
        sort, group, chains of its own units) that one worker runs under a Parallel Append,
        and only the final counts and medians are left to the leader.

        The planner takes that plan only when a parallel scan inside each branch costs more
        than a serial one, and it does not on its own. So: plan the branches serially
        (EXPLAIN, ~1 ms) to learn a branch's cost S, then set parallel_setup_cost (what each
        Gather costs) to 0.75 S: a Gather inside a branch can then save less than it costs
        (a parallel scan saves at most ~60 % of the scan, itself at most S), while one Gather
        over all the branches still beats running them one after another (0.75 S + S < 2 S).
        Below SPLIT_MIN_COST a funnel is small enough for one branch and default settings;
        there are never more than MAX_BRANCHES.

        Each branch scans every candidate row and keeps its half, so the split pays only
        while the scan is the covering (org, project, event type, timestamp) index's: PostgreSQL
        gained little from scanning that index in parallel (0.37 s with two workers, 0.45 s
        alone), so two serial scans cost little more. A funnel with a step or exclusion of
        any event type reads the events by sequential scan, which parallelizes well: split,
        it ran 3.4 -> 4.1 s (bench/funnel.py's data); it stays one branch.
        """
        count = branches if branches is not None else min(_int_or_zero(workers), MAX_BRANCHES)
        if count < 2 or (branches is None and self._scanned_types() is None):
            return self.to_sql()
        sql, params = self.to_sql(count)
        cursor.execute("SELECT set_config('max_parallel_workers_per_gather', '0', true)")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
        cursor.execute("SELECT set_config('max_parallel_workers_per_gather', %s, true)", [workers])
        if isinstance(plan, str):
            plan = json.loads(plan)
        per_branch = float(plan[0]["Plan"]["Total Cost"]) / count
        if branches is None and per_branch < SPLIT_MIN_COST:
            return self.to_sql()
        cursor.execute(
            "SELECT set_config('parallel_setup_cost', %s, true)", [f"{0.75 * per_branch:.0f}"]
        )
        return sql, params

    def _result(self, rows: list[tuple[Any, ...]]) -> FunnelResult:
        n_steps = len(self.steps)
        buckets: list[FunnelBucket] = []
        overall: FunnelBucket | None = None
        for row in rows:
            if self.breakdown is not None:
                value, is_overall, *numbers = row
                if value is not None and self._breakdown_is_json():
                    value = json.loads(value)
            else:
                value, is_overall, numbers = None, True, list(row)
            bucket = _bucket(value, numbers[:n_steps], numbers[n_steps:])
            if is_overall:
                overall = bucket
            else:
                buckets.append(bucket)
        if overall is None:  # GROUPING SETS always yield the () row; kept for mypy
            overall = _bucket(None, [0] * n_steps, [None] * (n_steps - 1))
        if self.breakdown is None:
            return FunnelResult(overall=overall, buckets=[overall])
        buckets.sort(key=_value_order)
        return FunnelResult(overall=overall, buckets=buckets, breakdown=self.breakdown)
