"""Snapshots of the PostgreSQL store's generated SQL (syrupy; `--snapshot-update` rewrites).

A change to a snapshot is a change to what PostgreSQL runs: review it like the code, and
run `make bench` when it touches the funnel. The numbers are checked elsewhere
(tests/analytics/test_funnel.py against the brute-force reference).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.queries.event_counts import EventCountsQuery, Interval
from analytics.queries.funnel import FunnelQuery
from analytics.stores.postgres.event_counts import compile_event_counts
from analytics.stores.postgres.funnel import compile_funnel

BASE = datetime(2026, 3, 1, tzinfo=UTC)
PAGE_VIEW = {"field": "event.type", "op": "eq", "value": "page.view"}
CLICK = {"field": "event.type", "op": "eq", "value": "ui.click"}
FUNNELS = {
    "two_typed_steps": FunnelQuery(
        project_id=7,
        steps=[[PAGE_VIEW, {"field": "page.path", "op": "eq", "value": "/cart"}], [CLICK]],
        date_from=BASE,
        date_to=BASE + timedelta(days=30),
    ),
    "user_unit_breakdown_exclusion": FunnelQuery(
        project_id=7,
        steps=[[PAGE_VIEW], [{"field": "plan", "op": "eq", "value": "pro"}], [CLICK]],
        date_from=BASE,
        date_to=BASE + timedelta(days=30),
        window=timedelta(days=3),
        unit="user",
        breakdown="plan",
        exclusions=[
            {"match": [{"field": "error.type", "op": "exists"}], "from_step": 1, "to_step": 3}
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(FUNNELS))
@pytest.mark.parametrize("branches", [1, 2])
def test_funnel_sql(snapshot, name, branches):
    sql, params = compile_funnel(FUNNELS[name], branches)
    assert {"sql": sql, "params": [repr(param) for param in params]} == snapshot


@pytest.mark.parametrize("group_by", [None, "page.path"])
def test_event_counts_sql(snapshot, group_by):
    query = EventCountsQuery(
        project_id=7,
        since=BASE,
        until=BASE + timedelta(days=7),
        interval=Interval.DAY,
        group_by=group_by,
        types=("page.view",) if group_by else (),
    )
    sql, params = compile_event_counts(query, org_id=3)
    assert {"sql": sql, "params": [repr(param) for param in params]} == snapshot
