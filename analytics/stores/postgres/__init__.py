"""The PostgreSQL analytics store: the events table the write path fills, under RLS."""

from __future__ import annotations

from datetime import timedelta

from analytics.queries.event_counts import EventCountsQuery, Series
from analytics.queries.funnel import FunnelQuery, FunnelResult
from analytics.stores.postgres.event_counts import compile_event_counts, counts_by_group
from analytics.stores.postgres.funnel import funnel_result, run_funnel
from analytics.stores.postgres.session import bounded


class PostgresStore:
    """Runs analytics queries on the events in PostgreSQL, in the caller's transaction.

    `funnel_branches` forces the number of branches a funnel is split into (the tests
    compare splits); by default the store plans it.
    """

    name = "postgres"

    def __init__(self, *, funnel_branches: int | None = None) -> None:
        self.funnel_branches = funnel_branches

    def funnel(self, query: FunnelQuery, *, timeout: timedelta) -> FunnelResult:
        """The funnel's numbers (see `analytics.stores.AnalyticsStore`)."""
        rows = run_funnel(query, timeout=timeout, branches=self.funnel_branches)
        return funnel_result(query, rows)

    def explain_funnel(self, query: FunnelQuery, *, timeout: timedelta) -> list[str]:
        """EXPLAIN (ANALYZE, BUFFERS) of the statement `funnel()` runs, as it runs it."""
        rows = run_funnel(
            query,
            timeout=timeout,
            branches=self.funnel_branches,
            prefix="EXPLAIN (ANALYZE, BUFFERS) ",
        )
        return [row[0] for row in rows]

    def event_counts(self, query: EventCountsQuery, *, timeout: timedelta) -> list[Series]:
        """The query's series (see `analytics.stores.AnalyticsStore`)."""
        query.validate()
        with bounded(timeout) as scope:
            sql, params = compile_event_counts(query, scope.org_id)
            scope.cursor.execute(sql, params)
            rows = scope.cursor.fetchall()
        return query.series(counts_by_group(rows))
