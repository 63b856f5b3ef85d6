"""Shared helpers of the ingestion tests."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction

from ingestion.models import Event
from orgs import selectors
from orgs.models import Organization
from productgraph.tenancy.context import org_context

# The default event's time: the whole hour before this test run started, well inside any
# org's retention (events older than it are refused) and never in the future.
RECENT = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
RECENT_TIMESTAMP = RECENT.strftime("%Y-%m-%dT%H:%M:%SZ")


def event(**overrides: Any) -> dict[str, Any]:
    """Return a valid event; keyword names use `__` for dots (`page__path`)."""
    base: dict[str, Any] = {
        "event_id": "evt_001",
        "session.id": "sess_001",
        "event.type": "page.view",
        "event.timestamp": RECENT_TIMESTAMP,
    }
    for key, value in overrides.items():
        base[key.replace("__", ".")] = value
    return base


def post(
    client, key: str | None, payload: Any, *, gzipped: bool = False, path="/v1/events", **extra
):
    """POST a batch to /v1/events (or `path`: a query string, say) like an SDK would."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = dict(extra)
    if key is not None:
        headers["HTTP_X_PG_API_KEY"] = key
    if gzipped:
        body = gzip.compress(body)
        headers["HTTP_CONTENT_ENCODING"] = "gzip"
    headers.setdefault("content_type", "application/json")
    return client.post(path, data=body, **headers)


def stored(org_id: int, **filters: Any) -> list[Event]:
    """Return the org's stored events (inside its org context)."""
    with transaction.atomic(), org_context(org_id):
        return list(Event.objects.filter(org_id=org_id, **filters).order_by("id"))


def retention_set(org_id: int, days: int) -> None:
    """Give the org a retention of `days` now, not within the 5 s of the project cache."""
    Organization.objects.filter(pk=org_id).update(retention_days=days)
    selectors._project_cache.clear()
