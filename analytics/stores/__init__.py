"""Analytics stores: each runs the query objects of `analytics.queries` on one engine.

`analytics_store()` returns the store `settings.ANALYTICS_STORE` names. A store is called
inside the caller's transaction and org context (`productgraph.tenancy.context.org_context`)
and scopes every query by that org itself; a query never carries an org.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from analytics.queries.event_counts import EventCountsQuery, Series
from analytics.queries.funnel import FunnelQuery, FunnelResult
from analytics.stores.postgres import PostgresStore


class AnalyticsStore(Protocol):
    """What every store answers, with the same numbers (the semantic tests hold for each).

    Each method validates its query (QueryError lists every problem), runs it in the org
    of the caller's context, and raises QueryTimeout after `timeout`, leaving the caller's
    transaction usable.
    """

    name: str

    def funnel(self, query: FunnelQuery, *, timeout: timedelta) -> FunnelResult:
        """The funnel's overall numbers and its breakdown buckets."""
        ...

    def event_counts(self, query: EventCountsQuery, *, timeout: timedelta) -> list[Series]:
        """The series, zero-filled, largest total first."""
        ...


def analytics_store() -> AnalyticsStore:
    """The configured store (`ANALYTICS_STORE`: `postgres`, the default)."""
    stores = {PostgresStore.name: PostgresStore}
    name = settings.ANALYTICS_STORE
    if name not in stores:
        raise ImproperlyConfigured(
            f"ANALYTICS_STORE={name!r}: use one of {', '.join(sorted(stores))}"
        )
    return stores[name]()
