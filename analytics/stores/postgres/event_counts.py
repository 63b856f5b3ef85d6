"""Event counts on PostgreSQL: one grouped scan of the (org, project, type, time) index."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from analytics.queries.event_counts import EventCountsQuery
from analytics.stores.postgres.session import sql_file
from ingestion.catalog import BY_KEY


def compile_event_counts(query: EventCountsQuery, org_id: int) -> tuple[str, list[Any]]:
    """Return the SQL and its parameters (pure: validates, touches nothing)."""
    query.validate()
    # The group column comes from the catalog's whitelist (GROUPABLE_KEYS), never from input.
    group = f"{BY_KEY[query.group_by].column}::text" if query.group_by else "NULL::text"
    params: list[Any] = [str(query.interval), org_id, query.project_id]
    params += [query.since, query.until]
    types = ""
    if query.types:
        types = " AND event_type = ANY(%s)"
        params.append(list(query.types))
    params.append(query.max_groups)
    return sql_file("event_counts.sql").format(group=group, types=types), params


def counts_by_group(rows: list[tuple[Any, ...]]) -> dict[str | None, dict[datetime, int]]:
    """The statement's (bucket, group, count) rows as counts per group and bucket."""
    counts: dict[str | None, dict[datetime, int]] = defaultdict(dict)
    for bucket, group, n in rows:
        counts[group][bucket] = n
    return counts
