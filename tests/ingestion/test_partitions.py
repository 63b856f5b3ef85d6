"""The events table's monthly partitions (ingestion/partitions.py and the write path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from orgs.models import MAX_RETENTION_DAYS
from productgraph.tenancy.context import org_context
from tests.ingestion.helpers import event, post, retention_set


def test_a_partition_is_made_for_the_earliest_and_latest_accepted_timestamps(client, acme):
    retention_set(acme.org.pk, MAX_RETENTION_DAYS)  # an org keeping 1970's events
    latest = datetime.now(UTC) + timedelta(hours=23)
    batch = [
        event(event_id="first", event__timestamp="1970-01-01T00:00:00Z"),
        event(event_id="last", event__timestamp=latest.isoformat()),
    ]
    response = post(client, acme.ingest_key, {"events": batch})
    assert response.json()["accepted"] == 2
    with transaction.atomic(), org_context(acme.org.pk), connection.cursor() as cursor:
        for name in ("ingestion_event_197001", f"ingestion_event_{latest:%Y%m}"):
            cursor.execute("SELECT count(*) FROM pg_class WHERE relname = %s", [name])
            assert cursor.fetchone()[0] == 1, name
        cursor.execute("SELECT count(*) FROM ingestion_event_default")
        assert cursor.fetchone()[0] == 0, "the default partition is only a safety net"
