"""The funnel (analytics.queries.funnel) on the PostgreSQL store against a brute-force
reference, its SQL, its rules.

Events are stored through the real write path (`events_ingest` in the org's context), the
funnel runs as the runtime role under RLS, and its numbers must equal
`tests.analytics.funnel_reference`, an enumeration of every chain written from analytics.md.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from analytics.errors import QueryError, QueryTimeout
from analytics.queries.funnel import FunnelExclusion, FunnelQuery, FunnelResult
from analytics.stores.postgres import PostgresStore
from analytics.stores.postgres import funnel as postgres_funnel
from analytics.stores.postgres.funnel import compile_funnel, plan_funnel
from analytics.stores.postgres.session import bounded, sql_file
from ingestion.services import events_ingest
from ingestion.validation import Project
from journeys.conditions import matches
from productgraph.tenancy.context import OrgContextError, org_context
from tests.analytics.funnel_reference import RefStep, bucket_key, reference_funnel
from tests.conftest import Tenant

BASE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TIMEOUT = timedelta(seconds=30)
RECEIVED = BASE + timedelta(days=1)

PAGE_VIEW = {"field": "event.type", "op": "eq", "value": "page.view"}
CLICK = {"field": "event.type", "op": "eq", "value": "ui.click"}
CUSTOM = {"field": "event.type", "op": "eq", "value": "custom"}
PATH_A = {"field": "page.path", "op": "eq", "value": "/a"}
PATH_B = {"field": "page.path", "op": "eq", "value": "/b"}
PRO = {"field": "plan", "op": "eq", "value": "pro"}
NOWHERE = [{"field": "page.path", "op": "eq", "value": "/nowhere"}]
# Conditions of generated steps and exclusions: most match one kind of generated event, some
# several (overlapping and repeated steps), one none (an empty step).
CONDITIONS: list[list[Any]] = [
    [PAGE_VIEW, PATH_A],
    [PATH_B],
    [CLICK],
    [CUSTOM],
    [PAGE_VIEW],
    [{"field": "event.type", "op": "in", "value": ["ui.click", "custom"]}],
    [{"any": [{"field": "page.path", "op": "prefix", "value": "/b"}, PRO]}],
    [{"field": "plan", "op": "exists"}],
    [PAGE_VIEW, {"field": "page.path", "op": "neq", "value": "/a"}],
    NOWHERE,
]  # fmt: skip
# (event.type, page.path) of generated events
KINDS = [("page.view", "/a"), ("page.view", "/b"), ("page.view", "/bb"), ("ui.click", None)]
KINDS += [("custom", None)]


def wire(
    event_id: str,
    seconds: float,
    *,
    session: str = "s1",
    type_: str = "page.view",
    **fields: Any,
) -> dict[str, Any]:
    """A wire event `seconds` after BASE; keyword names use `__` for dots (`page__path`)."""
    moment = BASE + timedelta(seconds=seconds)
    event: dict[str, Any] = {
        "event_id": event_id,
        "session.id": session,
        "event.type": type_,
        "event.timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    for key, value in fields.items():
        if value is not None or key == "plan":
            event[key.replace("__", ".")] = value
    return event


def ingest(tenant: Tenant, events: Sequence[Mapping[str, Any]]) -> None:
    """Store events through the write path, in the tenant's org context."""
    with org_context(tenant.org.pk):
        result = events_ingest(
            org_id=tenant.org.pk,
            project_id=tenant.project.pk,
            project=Project(public_id=tenant.project.public_id, slug=tenant.project.slug),
            events=list(events),
            received_at=RECEIVED,
            retention_days=tenant.org.retention_days,
            user_agent="funnel tests",
        )
    assert result.rejected == 0, result.errors


def run(
    tenant: Tenant,
    query: FunnelQuery,
    *,
    timeout: timedelta | None = None,
    branches: int | None = None,
) -> FunnelResult:
    with org_context(tenant.org.pk):
        return PostgresStore(funnel_branches=branches).funnel(query, timeout=timeout or TIMEOUT)


def query_for(tenant: Tenant, steps: Sequence[Any], **options: Any) -> FunnelQuery:
    options.setdefault("date_from", BASE)
    options.setdefault("date_to", BASE + timedelta(hours=1))
    return FunnelQuery(project_id=tenant.project.pk, steps=list(steps), **options)


def observed(result: FunnelResult) -> dict[tuple[str, Any], list[RefStep]]:
    """The result in the reference's shape (buckets nobody reached are absent)."""
    return {
        bucket_key(bucket.value): [
            RefStep(count=step.count, median_from_previous=step.median_time_from_previous)
            for step in bucket.steps
        ]
        for bucket in result.buckets
        if bucket.steps[0].count
    }


def expected(events: Sequence[Mapping[str, Any]], query: FunnelQuery):
    return reference_funnel(
        events,
        steps=query.steps,
        date_from=query.date_from,
        date_to=query.date_to,
        window=query.conversion_window,
        unit=query.unit,
        breakdown=query.breakdown,
        exclusions=[
            {"match": x.match, "from_step": x.from_step, "to_step": x.to_step}
            for x in query.normalized_exclusions()
        ],
    )


def assert_matches_reference(
    tenant: Tenant, events, query: FunnelQuery, *, branches: int | None = None
) -> FunnelResult:
    result = run(tenant, query, branches=branches)
    assert observed(result) == expected(events, query)
    overall = expected(events, FunnelQuery(**{**query.__dict__, "breakdown": None}))
    assert observed(FunnelResult(overall=result.overall, buckets=[result.overall])) == overall
    return result


def counts(result: FunnelResult) -> list[int]:
    return [step.count for step in result.overall.steps]


# --- generated funnels against the reference ------------------------------------------------


# Sessions s1 and s3 fall in different branches for 2 and 3 branches (hashtext: s1 -> 0 and 1,
# s3 -> 1 and 2), so that split runs combine branches for session units as for user units.
WALKERS = [
    {"session": "s1", "user__id": "u1", "user__anonymous_id": "a1"},
    {"session": "s3", "user__id": None, "user__anonymous_id": "a2"},
]


def _kinds_matching(conditions: Any) -> list[tuple[str, str | None]]:
    return [
        (type_, path)
        for type_, path in KINDS
        if matches(conditions, {"event.type": type_, "page.path": path, "plan": "pro"})
    ]


@st.composite
def _event_fields(draw, kinds: Sequence[tuple[str, str | None]] = KINDS) -> dict[str, Any]:
    type_, path = draw(st.sampled_from(kinds))
    fields: dict[str, Any] = {
        "session": draw(st.sampled_from(["s1", "s1", "s1", "s3"])),
        "type_": type_,
        "page__path": path,
        "user__id": draw(st.sampled_from([None, "", "u1", "u1", "u2"])),
        "user__anonymous_id": draw(st.sampled_from([None, "", "a1", "a1"])),
    }
    if draw(st.booleans()):
        fields["plan"] = draw(st.sampled_from(["free", "pro", 1, True, None]))
    return fields


@st.composite
def _planted(
    draw, conditions: Any, moment: float, walker: dict[str, Any]
) -> tuple[float, dict[str, Any]] | None:
    """An event of the walking unit matching `conditions` at `moment`, if any kind does."""
    kinds = _kinds_matching(conditions)
    if not kinds:
        return None
    fields = {**draw(_event_fields(kinds)), **walker}
    if "plan" in str(conditions):
        fields["plan"] = "pro"
    return moment, fields


@st.composite
def scenarios(draw) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A funnel and events of one to three units, dense in time (many ties).

    Usually one unit walks through the steps once or twice (an event of a matching kind per
    step, at non-decreasing whole or half seconds), exclusion events are planted near the
    walk, and random events of every unit are mixed in.
    """
    steps = [draw(st.sampled_from(CONDITIONS[:-1]))]  # an empty step 1 would test nothing
    steps += draw(st.lists(st.sampled_from(CONDITIONS), min_size=1, max_size=3))
    exclusions = []
    for _ in range(draw(st.sampled_from([0, 1, 1, 2]))):
        from_step = draw(st.integers(1, len(steps) - 1))
        exclusions.append(
            {
                "match": draw(st.sampled_from(CONDITIONS[:-1])),
                "from_step": from_step,
                "to_step": draw(st.integers(from_step + 1, len(steps))),
            }
        )
    start = draw(st.integers(0, 2))  # date_from, in seconds after BASE
    timed: list[tuple[float, dict[str, Any]]] = []
    for _walk in range(draw(st.sampled_from([0, 1, 1, 2, 2]))):
        walker = draw(st.sampled_from([WALKERS[0], *WALKERS]))
        moment = start + draw(st.integers(-1, 3)) / 2
        times = []
        for step in steps:
            times.append(moment)
            planted = draw(_planted(step, moment, walker))
            if planted and draw(st.integers(0, 7)):  # sometimes a walk stops early
                timed.append(planted)
            moment += draw(st.integers(0, 3)) / 2
        for exclusion in exclusions:
            if draw(st.booleans()):
                low = times[exclusion["from_step"] - 1]
                high = times[exclusion["to_step"] - 1]
                moment = draw(st.sampled_from(sorted({low, (low + high) / 2, high})))
                planted = draw(_planted(exclusion["match"], moment, walker))
                if planted:
                    timed.append(planted)
    for _ in range(draw(st.integers(0, 6))):
        offset = draw(st.integers(0, 12)) / 2
        timed.append((offset, draw(_event_fields())))
    ids = draw(st.permutations(range(len(timed))))
    events = [
        wire(f"e{ids[position]:02d}", offset, **fields)
        for position, (offset, fields) in enumerate(timed)
    ]
    date_from = BASE + timedelta(seconds=start)
    options = {
        "steps": steps,
        "date_from": date_from,
        "date_to": date_from + timedelta(seconds=draw(st.sampled_from([1, 3, 5, 7, 7]))),
        "window": draw(st.sampled_from([None, *(timedelta(seconds=s) for s in (1, 2, 3, 5))])),
        "unit": draw(st.sampled_from(["session", "session", "user"])),
        "breakdown": draw(st.sampled_from([None, "page.path", "plan", "event.type", "user.id"])),
        "exclusions": exclusions,
    }
    arrival = draw(st.permutations(events))  # out-of-order arrival
    return list(arrival), options


def _note_coverage(events: list[dict[str, Any]], query: FunnelQuery, result: FunnelResult) -> None:
    """Label the example for `--hypothesis-show-statistics`: how deep, ties, exclusions."""
    reached = max((step.step for step in result.overall.steps if step.count), default=0)
    event(f"deepest step reached: {reached}")
    if query.exclusions:
        unexcluded = expected(events, FunnelQuery(**{**query.__dict__, "exclusions": ()}))
        if unexcluded != expected(events, query):
            event("an exclusion changed the numbers")
    if query.breakdown is not None and len(result.buckets) > 1:
        event("several breakdown buckets")


@pytest.fixture
def prepared(acme) -> Tenant:
    """acme, with the month's partition and the chain functions made outside the examples'
    savepoints (each example rolls back its own)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT productgraph_ensure_event_partition(%s)", [BASE.date()])
        cursor.execute(sql_file("funnel_chain.sql"))
    return acme


@hypothesis_settings(
    max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenario=scenarios(), branches=st.sampled_from([None, 1, 2, 3]))
def test_generated_funnels_equal_the_brute_force_reference(prepared, scenario, branches):
    """Whatever the number of branches: each unit is in exactly one (a hash of the unit)."""
    acme = prepared
    events, options = scenario
    query = FunnelQuery(project_id=acme.project.pk, **options)
    with transaction.atomic():
        if events:
            ingest(acme, events)
        result = assert_matches_reference(acme, events, query, branches=branches)
        transaction.set_rollback(True)
    _note_coverage(events, query, result)


# --- edge cases, each pinned --------------------------------------------------------------


def test_steps_sharing_a_timestamp_use_distinct_events(acme):
    # Both events at t=0; step 1 (a page view or a click) must take the click for the page
    # view to fill step 2: one event never fills two steps. So e1 is the click, although
    # the page view has the smaller event id.
    events = [wire("e1", 0, page__path="/a"), wire("e2", 0, type_="ui.click")]
    ingest(acme, events)
    query = query_for(acme, [[{"any": [PAGE_VIEW, CLICK]}], [PAGE_VIEW]], breakdown="event.type")
    result = assert_matches_reference(acme, events, query)
    assert counts(result) == [1, 1]
    assert [bucket.value for bucket in result.buckets] == ["ui.click"]
    assert result.overall.steps[1].median_time_from_previous == timedelta(0)


def test_tied_events_are_matched_to_the_steps_as_a_whole(acme):
    # At t=0: e1 (/a), e2 (/b), e3 (click). Step 3 needs e1, step 2 then e2, so step 1 is
    # e3: found by augmenting paths, not by taking events in id order.
    events = [
        wire("e1", 0, page__path="/a"),
        wire("e2", 0, page__path="/b"),
        wire("e3", 0, type_="ui.click"),
    ]
    ingest(acme, events)
    steps = [[{"any": [PAGE_VIEW, CLICK]}], [PAGE_VIEW], [PAGE_VIEW, PATH_A]]
    result = assert_matches_reference(acme, events, query_for(acme, steps, breakdown="event.type"))
    assert counts(result) == [1, 1, 1]
    assert [bucket.value for bucket in result.buckets] == ["ui.click"]


def test_one_event_never_fills_two_repeated_steps(acme):
    events = [wire("e1", 0), wire("e2", 5)]
    ingest(acme, events)
    result = assert_matches_reference(acme, events, query_for(acme, [[PAGE_VIEW]] * 3))
    assert counts(result) == [1, 1, 0]


def test_ties_are_broken_by_event_id_for_the_breakdown(acme):
    events = [
        wire("e2", 0, page__path="/b"),
        wire("e1", 0, page__path="/a"),
        wire("e3", 1, type_="ui.click"),
    ]
    ingest(acme, events)
    query = query_for(acme, [[PAGE_VIEW], [CLICK]], breakdown="page.path")
    result = assert_matches_reference(acme, events, query)
    assert [bucket.value for bucket in result.buckets] == ["/a"]


def test_window_boundary_is_inclusive(acme):
    events = [wire("e1", 0), wire("e2", 10, type_="ui.click"), wire("e3", 0, session="s2")]
    events.append(wire("e4", 10.000001, session="s2", type_="ui.click"))
    ingest(acme, events)
    query = query_for(acme, [[PAGE_VIEW], [CLICK]], window=timedelta(seconds=10))
    result = assert_matches_reference(acme, events, query)
    assert counts(result) == [2, 1]
    assert result.overall.steps[1].median_time_from_previous == timedelta(seconds=10)


def test_a_later_start_can_make_the_longer_chain(acme):
    # From t=0 the window closes before step 3; from t=20 all three steps fit.
    events = [
        wire("e1", 0),
        wire("e2", 5, type_="ui.click"),
        wire("e3", 20),
        wire("e4", 25, type_="ui.click"),
        wire("e5", 28, type_="custom"),
    ]
    ingest(acme, events)
    query = query_for(acme, [[PAGE_VIEW], [CLICK], [CUSTOM]], window=timedelta(seconds=10))
    result = assert_matches_reference(acme, events, query)
    assert counts(result) == [1, 1, 1]
    assert result.overall.steps[1].median_time_from_previous == timedelta(seconds=5)
    assert result.overall.steps[2].median_time_from_previous == timedelta(seconds=3)


def test_a_start_exactly_one_window_before_the_end_counts(acme):
    events = [wire("e1", 0), wire("e2", 5), wire("e3", 15, type_="ui.click")]
    ingest(acme, events)
    query = query_for(acme, [[PAGE_VIEW], [CLICK]], window=timedelta(seconds=10))
    result = assert_matches_reference(acme, events, query)
    assert counts(result) == [1, 1]
    assert result.overall.steps[1].median_time_from_previous == timedelta(seconds=10)


def test_an_exclusion_is_avoided_by_a_later_middle_step(acme):
    # Page view, click, custom (excluded between 2 and 3), click, page view: the chain
    # through the second click avoids the exclusion; the earliest chain would not.
    events = [
        wire("e1", 0, page__path="/a"),
        wire("e2", 1, type_="ui.click"),
        wire("e3", 2, type_="custom"),
        wire("e4", 3, type_="ui.click"),
        wire("e5", 4, page__path="/b"),
    ]
    ingest(acme, events)
    query = query_for(
        acme,
        [[PAGE_VIEW], [CLICK], [PAGE_VIEW]],
        exclusions=[{"match": [CUSTOM], "from_step": 2, "to_step": 3}],
    )
    result = assert_matches_reference(acme, events, query)
    assert counts(result) == [1, 1, 1]
    assert result.overall.steps[1].median_time_from_previous == timedelta(seconds=3)


def test_an_exclusion_stops_the_unit_before_to_step(acme):
    events = [wire("e1", 0), wire("e2", 1, type_="custom"), wire("e3", 2, type_="ui.click")]
    ingest(acme, events)
    query = query_for(
        acme,
        [[PAGE_VIEW], [CLICK]],
        exclusions=[FunnelExclusion(match=[CUSTOM], from_step=1, to_step=2)],
    )
    result = assert_matches_reference(acme, events, query)
    assert counts(result) == [1, 0]


def test_an_exclusion_at_a_step_timestamp_is_not_between(acme):
    events = [wire("e1", 0), wire("e2", 0, type_="custom"), wire("e3", 2, type_="ui.click")]
    ingest(acme, events)
    query = query_for(
        acme, [[PAGE_VIEW], [CLICK]], exclusions=[{"match": [CUSTOM], "from_step": 1, "to_step": 2}]
    )
    assert counts(assert_matches_reference(acme, events, query)) == [1, 1]


def test_a_step_nothing_matches_stops_everyone_there(acme):
    events = [wire("e1", 0), wire("e2", 1, type_="ui.click")]
    ingest(acme, events)
    query = query_for(acme, [[PAGE_VIEW], CONDITIONS[-1], [CLICK]])
    result = assert_matches_reference(acme, events, query)
    assert counts(result) == [1, 0, 0]
    assert result.overall.steps[1].median_time_from_previous is None
    assert result.overall.steps[1].conversion_from_previous == 0.0


def test_a_type_every_step_names_is_checked_once_by_the_scan(acme):
    # page.view is the only type scanned, so the masks leave `event.type eq` out; a click on
    # /b still must not fill the /b step, nor a page view on /b without its type condition.
    events = [
        wire("e1", 0, page__path="/a"),
        wire("e2", 1, type_="ui.click", page__path="/b"),
        wire("e3", 2, session="s2", page__path="/a"),
        wire("e4", 3, session="s2", page__path="/b"),
    ]
    ingest(acme, events)
    query = query_for(acme, [[PAGE_VIEW, PATH_A], [PAGE_VIEW, PATH_B]])
    sql, params = compile_funnel(query)
    assert "event_type = %s" not in sql
    assert "AND e.event_type = ANY(%s)\n" in sql and ["page.view"] in params
    assert counts(assert_matches_reference(acme, events, query)) == [2, 1]


def test_user_unit_falls_back_to_the_anonymous_id(acme):
    events = [
        wire("e1", 0, session="s1", user__id="u1"),
        wire("e2", 30, session="s2", user__id="u1", type_="ui.click"),
        wire("e3", 0, session="s3", user__id="", user__anonymous_id="a1"),
        wire("e4", 40, session="s4", user__anonymous_id="a1", type_="ui.click"),
        wire("e5", 0, session="s5"),  # neither: not a user
    ]
    ingest(acme, events)
    by_user = assert_matches_reference(
        acme, events, query_for(acme, [[PAGE_VIEW], [CLICK]], unit="user")
    )
    assert counts(by_user) == [2, 2]
    by_session = assert_matches_reference(acme, events, query_for(acme, [[PAGE_VIEW], [CLICK]]))
    assert counts(by_session) == [3, 0]


def test_breakdown_puts_absent_values_in_the_null_bucket(acme):
    events = [
        wire("e1", 0, session="s1", plan="pro"),
        wire("e2", 0, session="s2"),
        wire("e3", 0, session="s3", plan=None),
        wire("e4", 1, session="s3", type_="ui.click"),
        wire("e5", 0, session="s4", plan=True),
    ]
    ingest(acme, events)
    query = query_for(acme, [[PAGE_VIEW], [CLICK]], breakdown="plan")
    result = assert_matches_reference(acme, events, query)
    assert [(bucket.value, bucket.steps[0].count) for bucket in result.buckets] == [
        (None, 2),
        ("pro", 1),
        (True, 1),
    ]
    assert counts(result) == [4, 1]


def test_date_range_bounds_the_first_step_only(acme):
    events = [
        wire("e1", -1, session="s1"),  # before date_from: not a start
        wire("e2", 0, session="s2"),  # at date_from: a start
        wire("e3", 59, session="s3"),  # at date_to: not a start
        wire("e4", 60, session="s3", type_="ui.click"),
        wire("e5", 58, session="s4"),
        wire("e6", 61, session="s4", type_="ui.click"),  # after date_to, inside the window
    ]
    ingest(acme, events)
    query = query_for(
        acme, [[PAGE_VIEW], [CLICK]], date_from=BASE, date_to=BASE + timedelta(seconds=59)
    )
    result = assert_matches_reference(acme, events, query)
    assert counts(result) == [2, 1]


def test_percentages_are_of_step_one_as_in_the_spec(acme):
    events = [wire(f"v{i}", 0, session=f"s{i}") for i in range(4)]
    events += [wire(f"c{i}", 1, session=f"s{i}", type_="ui.click") for i in range(3)]
    events += [wire(f"x{i}", 2, session=f"s{i}", type_="custom") for i in range(2)]
    ingest(acme, events)
    result = assert_matches_reference(
        acme, events, query_for(acme, [[PAGE_VIEW], [CLICK], [CUSTOM]])
    )
    steps = result.overall.steps
    assert [step.conversion_from_first for step in steps] == [100.0, 75.0, 50.0]
    assert [step.conversion_from_previous for step in steps] == [None, 75.0, 100 * 2 / 3]
    assert [step.drop_off for step in steps] == [None, 1, 1]
    assert str(result.overall) == "1: 4 (100 %) → 2: 3 (75 %) → 3: 2 (50 %)"


def test_no_events_give_zero_counts(acme):
    result = run(acme, query_for(acme, [[PAGE_VIEW], [CLICK]], breakdown="plan"))
    assert counts(result) == [0, 0]
    assert result.buckets == []
    assert result.overall.steps[0].conversion_from_first is None


def test_medians_average_the_two_middle_values(acme):
    events = [wire("a1", 0, session="a"), wire("a2", 1, session="a", type_="ui.click")]
    events += [wire("b1", 0, session="b"), wire("b2", 2.000001, session="b", type_="ui.click")]
    ingest(acme, events)
    result = assert_matches_reference(acme, events, query_for(acme, [[PAGE_VIEW], [CLICK]]))
    assert result.overall.steps[1].median_time_from_previous == timedelta(seconds=1.5)


# --- the SQL ----------------------------------------------------------------------------------


def fixed_query() -> FunnelQuery:
    return FunnelQuery(
        project_id=42,
        steps=[
            [PAGE_VIEW, {"field": "page.path", "op": "eq", "value": "/secret-cart"}],
            [{"field": "event.type", "op": "in", "value": ["ui.click", "custom"]}],
            [{"field": "coupon", "op": "eq", "value": "X'; DROP TABLE ingestion_event; --"}],
        ],
        date_from=datetime(2026, 1, 1, tzinfo=UTC),
        date_to=datetime(2026, 2, 1, tzinfo=UTC),
        window=timedelta(minutes=45),
        breakdown="utm_source",
        exclusions=[{"match": [PATH_B], "from_step": 1, "to_step": 3}],
    )


def test_compile_passes_every_value_as_a_parameter():
    sql, params = compile_funnel(fixed_query())
    assert sql.count("%s") == len(params)
    for value in ("/secret-cart", "DROP TABLE", "utm_source", "coupon", "2026", "page.view"):
        assert value not in sql
    assert params[:4] == [3, timedelta(minutes=45), [1], [3]]  # the chain call comes first
    assert params[4] == datetime(2026, 2, 1, tzinfo=UTC)  # step 1's date_to
    assert params[5:8] == ["page.view", "/secret-cart", ["ui.click", "custom"]]
    assert params[8:10] == ["coupon", '"X\'; DROP TABLE ingestion_event; --"']  # jsonb
    project = params.index(42)
    assert params[project : project + 3] == [
        42,
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 2, 1, 0, 45, tzinfo=UTC),  # date_to + window
    ]


def test_compile_in_branches_splits_the_units_by_hash_and_repeats_the_parameters():
    one, one_params = compile_funnel(fixed_query())
    sql, params = compile_funnel(fixed_query(), 3)
    assert sql.count("%s") == len(params) == 3 * len(one_params)
    assert params == one_params * 3
    assert sql.count("\nUNION ALL\n") == 2
    unit = 'e.session_id COLLATE "C"'
    for index in range(3):
        assert f"AND mod(hashtext({unit}) & 2147483647, 3) = {index}\n" in sql
    # One branch alone keeps the optimization fence that makes one chain call per unit;
    # UNION ALL branches compute their columns once each without it.
    assert "OFFSET 0" in one and "hashtext" not in one
    assert "OFFSET 0" not in sql
    with pytest.raises(ValueError, match="branches"):
        compile_funnel(fixed_query(), 0)


def test_compile_is_pure_and_deterministic():
    first, second = compile_funnel(fixed_query()), compile_funnel(fixed_query())
    assert first == second


def test_compile_reads_only_the_project_and_range_with_the_chain_function():
    sql, _ = compile_funnel(fixed_query())
    assert "FROM ingestion_event e" in sql
    assert re.search(
        r"WHERE e\.project_id = %s\s+AND e\.timestamp >= %s\s+AND e\.timestamp < %s", sql
    )
    assert "pg_temp.productgraph_funnel_chain(" in sql
    assert "GROUP BY GROUPING SETS ((bd[chain[2]::integer]), ())" in sql


def test_compile_adds_an_event_type_filter_only_when_every_matcher_implies_one():
    restricted = FunnelQuery(
        project_id=1,
        steps=[[PAGE_VIEW], [{"any": [CLICK, CUSTOM]}]],
        date_from=BASE,
        date_to=RECEIVED,
    )
    sql, params = compile_funnel(restricted)
    assert "AND e.event_type = ANY(%s)\n" in sql
    assert ["custom", "page.view", "ui.click"] in params
    sql, _ = compile_funnel(fixed_query())  # the coupon step and the exclusion have no type
    assert "AND e.event_type = ANY(%s)\n" not in sql


def test_compile_selects_user_units_with_their_fallback():
    query = FunnelQuery(
        project_id=1, steps=[[PAGE_VIEW], [CLICK]], date_from=BASE, date_to=RECEIVED, unit="user"
    )
    sql, params = compile_funnel(query)
    unit = "COALESCE(NULLIF(e.user_id, ''), NULLIF(e.anonymous_id, '')) COLLATE \"C\""
    assert f"{unit} IS NOT NULL" in sql
    assert timedelta(days=14) in params  # the user default window


# --- validation -----------------------------------------------------------------------------


def errors_of(**changes: Any) -> list[str]:
    options: dict[str, Any] = {
        "project_id": 1,
        "steps": [[PAGE_VIEW], [CLICK]],
        "date_from": BASE,
        "date_to": RECEIVED,
    }
    options.update(changes)
    with pytest.raises(QueryError) as raised:
        FunnelQuery(**options).validate()
    return raised.value.errors


def test_a_valid_query_validates():
    FunnelQuery(
        project_id=1, steps=[[PAGE_VIEW], [CLICK]], date_from=BASE, date_to=RECEIVED
    ).validate()


def test_too_few_and_too_many_steps_are_errors():
    assert errors_of(steps=[[PAGE_VIEW]]) == ["steps: a funnel has 2 to 20 steps, not 1"]
    assert errors_of(steps=[[PAGE_VIEW]] * 21) == ["steps: a funnel has 2 to 20 steps, not 21"]


def test_bad_conditions_are_named_by_path():
    assert errors_of(steps=[[PAGE_VIEW], [{"field": "page.path", "op": "like", "value": "x"}]]) == [
        "steps[1][0].op: unknown op 'like'; use one of eq, neq, in, prefix, contains, regex, "
        "exists, gt, gte, lt, lte"
    ]
    assert errors_of(steps=[[], PAGE_VIEW]) == [
        "steps[0]: must be a non-empty list of conditions",
        "steps[1]: must be a non-empty list of conditions",
    ]


def exclusion(from_step: Any, to_step: Any, match: Any = (CUSTOM,)) -> dict[str, Any]:
    return {"match": list(match), "from_step": from_step, "to_step": to_step}


NUMBER = "must be a step number from 1 to 2"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (exclusion(2, 2), "exclusions[0]: from_step must come before to_step"),
        (exclusion(2, 1), "exclusions[0]: from_step must come before to_step"),
        (exclusion(0, 2), f"exclusions[0].from_step: {NUMBER}"),
        (exclusion(1, 3), f"exclusions[0].to_step: {NUMBER}"),
        (exclusion(True, 2), f"exclusions[0].from_step: {NUMBER}"),
        (exclusion(1, 2, match=()), "exclusions[0].match: must be a non-empty list of conditions"),
        (
            {"match": [CUSTOM], "from_step": 1},
            "exclusions[0]: must have exactly the keys from_step, match, to_step",
        ),
    ],
)
def test_bad_exclusions_are_errors(raw, message):
    assert errors_of(exclusions=[raw]) == [message]


@pytest.mark.parametrize("window", [timedelta(0), timedelta(seconds=-1)])
def test_window_must_be_positive(window):
    assert errors_of(window=window) == ["window: must be a positive duration"]


def test_unknown_unit_date_range_and_breakdown_are_errors():
    assert errors_of(unit="device") == ["unit: unknown unit 'device'; use one of session, user"]
    assert errors_of(date_to=BASE) == ["date_to: must be after date_from"]
    assert errors_of(date_from=datetime(2026, 1, 1)) == [
        "date_from: must be a timezone-aware datetime"
    ]
    assert errors_of(breakdown="event.timestamp") == [
        "breakdown: event.timestamp is a timestamp; break down by another field"
    ]
    assert errors_of(breakdown="") == ["breakdown: must be an event key (a non-empty string)"]


def test_a_window_past_the_calendar_is_an_error():
    assert errors_of(window=timedelta(days=999_999_999)) == ["window: too long for date_to"]


def test_every_problem_is_reported_at_once():
    errors = errors_of(steps=[[PAGE_VIEW]], unit="device", window=timedelta(0))
    assert len(errors) == 3


def test_run_validates_first(acme):
    with pytest.raises(QueryError):
        run(acme, query_for(acme, [[PAGE_VIEW]]))


# --- tenancy and the statement timeout ---------------------------------------------------------


def test_funnel_in_acme_context_sees_nothing_of_globex_project(acme, globex):
    events = [wire("e1", 0), wire("e2", 1, type_="ui.click")]
    ingest(globex, events)
    steps = [[PAGE_VIEW], [CLICK]]
    assert counts(run(globex, query_for(globex, steps))) == [1, 1]
    assert counts(run(acme, query_for(globex, steps))) == [0, 0]
    assert counts(run(acme, query_for(acme, steps))) == [0, 0]


def test_run_needs_an_org_context(acme):
    with transaction.atomic(), pytest.raises(OrgContextError, match="org_context"):
        PostgresStore().funnel(query_for(acme, [[PAGE_VIEW], [CLICK]]), timeout=TIMEOUT)


def test_a_statement_timeout_raises_funnel_timeout_and_keeps_the_transaction(acme):
    # Another connection holds the events table: the funnel waits until its timeout.
    owner = settings.DATABASES["owner"]
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with psycopg.connect(
            dbname=connection.settings_dict["NAME"],
            user=owner["USER"],
            password=owner["PASSWORD"],
            host=owner["HOST"],
            port=owner["PORT"] or None,
        ) as other:
            other.execute("LOCK TABLE ingestion_event IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(30)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(30)
        with pytest.raises(QueryTimeout) as raised:
            run(acme, query_for(acme, [[PAGE_VIEW], [CLICK]]), timeout=timedelta(milliseconds=200))
    finally:
        release.set()
        holder.join(30)
    assert "longer than 0:00:00.200000" in str(raised.value)
    with connection.cursor() as cursor:  # the caller's transaction is still usable
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"


def test_run_restores_the_callers_settings(acme):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('statement_timeout', '7s', true), current_setting('work_mem')"
        )
        work_mem = cursor.fetchone()[1]
    run(acme, query_for(acme, [[PAGE_VIEW], [CLICK]]), timeout=timedelta(seconds=3))
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout'), current_setting('work_mem')")
        assert cursor.fetchone() == ("7s", work_mem)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('parallel_setup_cost', '1234', true)")
    run(acme, query_for(acme, [[PAGE_VIEW], [CLICK]]), branches=2)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('parallel_setup_cost'),"
            " current_setting('max_parallel_workers_per_gather')"
        )
        assert cursor.fetchone() == ("1234", settings_value("max_parallel_workers_per_gather"))


def settings_value(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reset_val FROM pg_settings WHERE name = %s", [name])
        return cursor.fetchone()[0]


def planned(acme: Tenant, query: FunnelQuery) -> tuple[str, str]:
    """The SQL the store would run and the parallel_setup_cost it would run it with."""
    with org_context(acme.org.pk), transaction.atomic():
        with bounded(TIMEOUT, saved=("max_parallel_workers_per_gather",)) as scope:
            scope.cursor.execute(sql_file("funnel_chain.sql"))
            sql, _ = plan_funnel(query, scope, branches=None)
            scope.cursor.execute("SELECT current_setting('parallel_setup_cost')")
            (setup_cost,) = scope.cursor.fetchone()
        transaction.set_rollback(True)
    return sql, setup_cost


def test_a_large_funnel_runs_in_one_branch_per_parallel_worker(acme, monkeypatch):
    monkeypatch.setattr(postgres_funnel, "SPLIT_MIN_COST", 0)  # every funnel is "large"
    query = query_for(acme, [[PAGE_VIEW], [CLICK]])
    default_cost = settings_value("parallel_setup_cost")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('max_parallel_workers_per_gather', '2', true)")
    sql, setup_cost = planned(acme, query)
    assert sql.count("\nUNION ALL\n") == 1 and "mod(hashtext(" in sql
    assert setup_cost != default_cost  # 0.75 of a branch's serial cost
    with org_context(acme.org.pk):
        plan = "\n".join(PostgresStore().explain_funnel(query, timeout=TIMEOUT))
    assert "Parallel Append" in plan, plan


def test_a_small_funnel_an_untyped_step_or_no_parallel_workers_keep_one_branch(acme, monkeypatch):
    query = query_for(acme, [[PAGE_VIEW], [CLICK]])
    default_cost = settings_value("parallel_setup_cost")
    sql, setup_cost = planned(acme, query)  # nothing stored: far below SPLIT_MIN_COST
    assert "UNION ALL" not in sql and setup_cost == default_cost
    monkeypatch.setattr(postgres_funnel, "SPLIT_MIN_COST", 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('max_parallel_workers_per_gather', '2', true)")
    untyped = query_for(acme, [[PAGE_VIEW], [PATH_B]])  # read by a sequential scan
    sql, setup_cost = planned(acme, untyped)
    assert "UNION ALL" not in sql and setup_cost == default_cost
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('max_parallel_workers_per_gather', '0', true)")
    sql, setup_cost = planned(acme, query)
    assert "UNION ALL" not in sql and setup_cost == default_cost


def test_a_split_funnel_runs_its_branches_in_parallel_workers_and_equals_the_reference(
    acme, monkeypatch
):
    monkeypatch.setattr(postgres_funnel, "SPLIT_MIN_COST", 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('max_parallel_workers_per_gather', '2', true)")
    events = []
    for number in range(12):  # sessions of both branches, some reaching every step
        session = f"s{number}"
        events.append(wire(f"{session}a", number, session=session))
        if number % 3:
            events.append(wire(f"{session}b", number + 1, session=session, type_="ui.click"))
        if number % 2:
            events.append(wire(f"{session}c", number + 2, session=session, type_="custom"))
    ingest(acme, events)
    query = query_for(acme, [[PAGE_VIEW], [CLICK], [CUSTOM]])
    sql, _ = planned(acme, query)
    assert "UNION ALL" in sql
    with org_context(acme.org.pk):
        plan = "\n".join(PostgresStore().explain_funnel(query, timeout=TIMEOUT))
    assert "Parallel Append" in plan and re.search(r"Workers Launched: [12]", plan), plan
    assert_matches_reference(acme, events, query)
    assert counts(run(acme, query)) == [12, 8, 4]


@pytest.mark.parametrize("exclusions", [[], [{"match": NOWHERE, "from_step": 1, "to_step": 2}]])
def test_the_window_is_a_duration_whatever_the_session_time_zone(acme, exclusions):
    # 24 hours across New York's spring-forward night: one day as a duration, 23 hours of
    # its calendar. The exclusion (never matched) sends the unit through the general path.
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('TimeZone', 'America/New_York', true)")
    start = datetime(2026, 3, 8, 4, 30, tzinfo=UTC)  # 23:30 on the 7th in New York
    offset = (start - BASE).total_seconds()
    events = [wire("e1", offset), wire("e2", offset + 86_400, type_="ui.click")]
    ingest(acme, events)
    query = query_for(
        acme,
        [[PAGE_VIEW], [CLICK]],
        date_from=start,
        date_to=start + timedelta(hours=1),
        window=timedelta(days=1),
        exclusions=exclusions,
    )
    assert counts(assert_matches_reference(acme, events, query)) == [1, 1]
