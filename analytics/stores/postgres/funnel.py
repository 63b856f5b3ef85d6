"""The funnel on PostgreSQL: compile a `FunnelQuery` to SQL, plan it, run it.

The candidates are the project's events in [date_from, date_to + window) matching a step or
an exclusion (nothing outside can be in a chain or between two of its events), each with a
bit mask of the steps it matches (step 1 only inside the date range) and one of the
exclusions. Per unit they are aggregated into arrays ordered by (timestamp, event_id)
(`funnel_branch.sql`). A unit with no event matching step 2 reaches step 1 only, with its
first step-1 event: plain aggregates, no function call. Any other unit goes through
`productgraph_funnel_chain`, the PL/pgSQL function of `funnel_chain.sql`, which explains how
it finds the counted chain. A large funnel runs as one `UNION ALL` branch per parallel
worker, the units split by a hash (`plan_funnel`, ADR 0005).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from analytics.queries.funnel import FunnelBucket, FunnelQuery, FunnelResult
from analytics.stores.postgres.session import Bounded, bounded, sql_file
from ingestion.catalog import BY_KEY
from journeys.conditions import to_sql

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

CHAIN_FUNCTION = "pg_temp.productgraph_funnel_chain"
_CHAIN_SIGNATURE = (
    f"{CHAIN_FUNCTION}(timestamptz[], integer[], integer[], integer, interval,"
    " integer[], integer[])"
)
_NEWLINE = ",\n       "
_CONJUNCTION = "\n      AND "


def _check_branches(branches: Any) -> None:
    if isinstance(branches, bool) or not isinstance(branches, int) or branches < 1:
        raise ValueError("branches must be a positive integer")


def _without_type(conditions: list[Any], event_type: str | None) -> list[Any]:
    """The conditions without their top-level `event.type eq event_type` (ANDed) items."""
    if event_type is None:
        return conditions
    implied = {"field": "event.type", "op": "eq", "value": event_type}
    return [item for item in conditions if item != implied]


def _unit_sql(query: FunnelQuery) -> str:
    # Grouped bytewise: the database's default collation made the sort by unit compare
    # with strcoll and without abbreviated keys (equality is the same either way).
    if query.unit == "session":
        return 'e.session_id COLLATE "C"'
    return "COALESCE(NULLIF(e.user_id, ''), NULLIF(e.anonymous_id, '')) COLLATE \"C\""


def _breakdown_sql(query: FunnelQuery, params: list[Any]) -> str:
    breakdown = query.breakdown
    assert breakdown is not None  # noqa: S101 -- only called with one
    if breakdown in BY_KEY:
        spec = BY_KEY[breakdown]
        column = f"e.{spec.column}"  # from the catalog, never from input
        if spec.kind in ("json", "object"):
            return f"NULLIF({column}, 'null'::jsonb)"
        return column
    params.append(breakdown)
    return "NULLIF(e.attributes -> %s, 'null'::jsonb)"


def _steps_mask_sql(query: FunnelQuery, params: list[Any], implied_type: str | None) -> str:
    """Bit i - 1 set when the event matches step i (step 1: before date_to only)."""
    bits = []
    for index, step in enumerate(query.steps):
        in_range = ""
        if index == 0:
            params.append(query.date_to)
            in_range = "e.timestamp < %s AND "
        matches = to_sql(_without_type(step, implied_type), params)
        bits.append(f"CASE WHEN ({in_range}{matches}) THEN {1 << index} ELSE 0 END")
    return "(" + "\n             | ".join(bits) + ")"


def _exclusions_mask_sql(query: FunnelQuery, params: list[Any], implied_type: str | None) -> str:
    """Bit e - 1 set when the event matches exclusion e."""
    bits = [
        f"CASE WHEN {to_sql(_without_type(exclusion.match, implied_type), params)}"
        f" THEN {1 << index} ELSE 0 END"
        for index, exclusion in enumerate(query.normalized_exclusions())
    ]
    return "(" + "\n             | ".join(bits) + ")"


def compile_funnel(query: FunnelQuery, branches: int = 1) -> tuple[str, list[Any]]:
    """Return the funnel's SQL and its parameters (pure: validates, touches nothing).

    One row per bucket: [breakdown value, is the overall row,] then the count of each
    step, then the median microseconds from the previous step for steps 2..n. With
    `branches` > 1 the units are split by a hash of the unit into that many `UNION ALL`
    branches, each computing its own units' chains (see `plan_funnel()` for why); the numbers
    are the same. The org is left to RLS: the funnel's index scans are by project.
    """
    query.validate()
    _check_branches(branches)
    exclusions = query.normalized_exclusions()
    window = query.conversion_window
    unit = _unit_sql(query)
    n_steps = len(query.steps)
    params: list[Any] = []
    scanned = query.scanned_types()
    # With one event type scanned (the WHERE below), `event.type eq` it is true of every
    # candidate: dropped from the masks, which are computed twice per scanned event
    # (1.35 -> 1.08 s for bench/funnel.py's product_to_confirm).
    implied_type = next(iter(scanned)) if scanned is not None and len(scanned) == 1 else None

    # The chain call comes first in a branch's text, so its parameters do too.
    params += [
        n_steps,
        window,
        [exclusion.from_step for exclusion in exclusions],
        [exclusion.to_step for exclusion in exclusions],
    ]
    # The candidates' columns, in text order (so that the parameters follow it).
    columns = [
        f"{unit} AS unit",
        'e.event_id COLLATE "C" AS eid',
        "e.timestamp AS at",
        f"{_steps_mask_sql(query, params, implied_type)} AS mask",
    ]
    if exclusions:
        columns.append(f"{_exclusions_mask_sql(query, params, implied_type)} AS xmask")
    if query.breakdown is not None:
        columns.append(f"{_breakdown_sql(query, params)} AS bd")

    params += [query.project_id, query.date_from, query.date_to + window]
    where = ["e.project_id = %s", "e.timestamp >= %s", "e.timestamp < %s"]
    if scanned is not None:
        # Implied by the conditions; lets the (org, project, event_type, timestamp) index in.
        params.append(sorted(scanned))
        where.append("e.event_type = ANY(%s)")
    if query.unit == "user":
        where.append(f"{unit} IS NOT NULL")
    # The masks again rather than an OR of the conditions: the planner estimates an OR of
    # conditions that repeat the event-type filter far too low (56,000 rows for 525,000
    # in bench/funnel.py) and picked a 2.7 s index scan over a 1.1 s sequential one; it
    # takes `mask <> 0` as barely selective and sizes the scan by the type filter alone.
    masks = _steps_mask_sql(query, params, implied_type)
    if exclusions:
        masks += f" | {_exclusions_mask_sql(query, params, implied_type)}"
    where.append(f"({masks}) <> 0")

    order = "ORDER BY at, eid"
    aggregates = [
        f"array_agg(at {order}) AS ts",
        f"array_agg(mask {order}) AS masks",
        f"array_agg(xmask {order}) AS xmasks" if exclusions else "NULL::integer[] AS xmasks",
        "bit_or(mask) AS seen",
    ]
    if query.breakdown is not None:
        aggregates.append(f"array_agg(bd {order}) FILTER (WHERE mask & 1 <> 0) AS bd")
    # A unit without a step-2 event reaches step 1 only, with its first step-1 event.
    call = f"{CHAIN_FUNCTION}(ts, masks, xmasks, %s, %s, %s, %s)"
    per_unit = [f"CASE WHEN seen & 2 <> 0 THEN {call} ELSE ARRAY[1, 1]::bigint[] END AS chain"]
    if query.breakdown is not None:
        per_unit.append("bd")  # the step-1 events' values: e1's is bd[chain[2]]
    outputs = ["count(*) AS step_1"]
    outputs += [
        f"count(*) FILTER (WHERE chain[1] >= {step}) AS step_{step}"
        for step in range(2, n_steps + 1)
    ]
    outputs += [
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY chain[{step + 2}] - chain[{step + 1}])"
        f" FILTER (WHERE chain[1] >= {step}) AS median_{step}"
        for step in range(2, n_steps + 1)
    ]
    grouping = ""
    if query.breakdown is not None:
        # jsonb as text, decoded in Python: Django's cursor leaves jsonb undecoded.
        first = "bd[chain[2]::integer]"
        value = f"{first}::text" if query.breakdown_is_json() else first
        outputs = [f"{value} AS value", f"GROUPING({first}) = 1 AS overall", *outputs]
        grouping = f"\nGROUP BY GROUPING SETS (({first}), ())"
    # One call per unit, however many times `chain` is read below: a lone subquery needs
    # OFFSET 0 not to be pulled up (its expression copied into each aggregate); UNION ALL
    # branches compute their output columns once each, and OFFSET 0 there kept the planner
    # from running them under a Parallel Append.
    barrier = "\nOFFSET 0" if branches == 1 else ""

    def branch(index: int) -> str:
        # Every unit lands in exactly one branch (the unit is never NULL here: a session
        # id is required, and user units are filtered on IS NOT NULL).
        split = [f"mod(hashtext({unit}) & 2147483647, {branches}) = {index}"]
        return sql_file("funnel_branch.sql").format(
            per_unit=_NEWLINE.join(per_unit),
            aggregates=_NEWLINE.join(aggregates),
            columns=_NEWLINE.join(columns),
            where=_CONJUNCTION.join(where + (split if branches > 1 else [])),
            barrier=barrier,
        )

    union = "\nUNION ALL\n".join(f"({branch(index)}\n)" for index in range(branches))
    sql = sql_file("funnel.sql").format(
        outputs=_NEWLINE.join(outputs), union=union, grouping=grouping
    )
    return sql, params * branches


def run_funnel(
    query: FunnelQuery, *, timeout: timedelta, branches: int | None = None, prefix: str = ""
) -> list[tuple[Any, ...]]:
    """Run the funnel's statement (`prefix` + its SQL) in the caller's org context."""
    query.validate()
    if branches is not None:
        _check_branches(branches)
    with bounded(
        timeout,
        settings={"work_mem": WORK_MEM},
        saved=("parallel_setup_cost", "max_parallel_workers_per_gather"),
    ) as scope:
        scope.cursor.execute("SELECT to_regprocedure(%s) IS NOT NULL", [_CHAIN_SIGNATURE])
        if not scope.cursor.fetchone()[0]:
            scope.cursor.execute(sql_file("funnel_chain.sql"))
        sql, params = plan_funnel(query, scope, branches=branches)
        scope.cursor.execute(prefix + sql, params)
        return scope.cursor.fetchall()


def _int_or_zero(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def plan_funnel(
    query: FunnelQuery, scope: Bounded, *, branches: int | None
) -> tuple[str, list[Any]]:
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
    workers = scope.before["max_parallel_workers_per_gather"]
    count = branches if branches is not None else min(_int_or_zero(workers), MAX_BRANCHES)
    if count < 2 or (branches is None and query.scanned_types() is None):
        return compile_funnel(query)
    sql, params = compile_funnel(query, count)
    cursor = scope.cursor
    cursor.execute("SELECT set_config('max_parallel_workers_per_gather', '0', true)")
    cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
    (plan,) = cursor.fetchone()
    cursor.execute("SELECT set_config('max_parallel_workers_per_gather', %s, true)", [workers])
    if isinstance(plan, str):
        plan = json.loads(plan)
    per_branch = float(plan[0]["Plan"]["Total Cost"]) / count
    if branches is None and per_branch < SPLIT_MIN_COST:
        return compile_funnel(query)
    cursor.execute(
        "SELECT set_config('parallel_setup_cost', %s, true)", [f"{0.75 * per_branch:.0f}"]
    )
    return sql, params


def funnel_result(query: FunnelQuery, rows: list[tuple[Any, ...]]) -> FunnelResult:
    """The result from the rows of `compile_funnel`'s statement."""
    n_steps = len(query.steps)
    buckets: list[FunnelBucket] = []
    overall: FunnelBucket | None = None
    for row in rows:
        if query.breakdown is not None:
            value, is_overall, *numbers = row
            if value is not None and query.breakdown_is_json():
                value = json.loads(value)
        else:
            value, is_overall, numbers = None, True, list(row)
        bucket = FunnelBucket.of(value, numbers[:n_steps], numbers[n_steps:])
        if is_overall:
            overall = bucket
        else:
            buckets.append(bucket)
    if overall is None:  # GROUPING SETS always yield the () row; kept for mypy
        overall = FunnelBucket.of(None, [0] * n_steps, [None] * (n_steps - 1))
    return query.result(overall, buckets)
