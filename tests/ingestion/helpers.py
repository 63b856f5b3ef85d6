"""Shared helpers of the ingestion tests."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from ingestion.models import Event, EventKey
from orgs import selectors
from orgs.models import Organization
from productgraph.tenancy.context import org_context
from tests.conftest import Tenant, run_json

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


def counts(tenant: Tenant) -> tuple[int, int]:
    """Return how many events and keys the tenant's org holds."""
    with transaction.atomic(), org_context(tenant.org.pk):
        return (
            Event.objects.filter(org_id=tenant.org.pk).count(),
            EventKey.objects.filter(org_id=tenant.org.pk).count(),
        )


def ndjson(path: Path, *lines: dict[str, Any] | str) -> Path:
    """Write lines (dicts as JSON, strings as they are) to a file."""
    path.write_text(
        "".join((json.dumps(line) if isinstance(line, dict) else line) + "\n" for line in lines)
    )
    return path


def days_ago(days: float) -> str:
    return (timezone.now() - timedelta(days=days)).isoformat()


def seed_old_and_new(tenant: Tenant, tmp_path: Path, capsys) -> None:
    """Import events 120, 60 and 5 days old, as while the org kept a year of them (imports
    refuse what the org's retention would purge)."""
    org = Organization.objects.filter(pk=tenant.org.pk)
    kept = org.get().retention_days
    org.update(retention_days=365)
    path = ndjson(
        tmp_path / f"{tenant.org.slug}.ndjson",
        event(event_id="old_1", event__timestamp=days_ago(120)),
        event(event_id="old_2", event__timestamp=days_ago(60)),
        event(event_id="new_1", event__timestamp=days_ago(5)),
    )
    out = run_json(capsys, "import_events", "--project", tenant.project.public_id, str(path))
    assert out["accepted"] == 3, out
    org.update(retention_days=kept)


def partition_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"public.{name}"])
        return cursor.fetchone()[0]
