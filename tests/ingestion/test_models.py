"""The events and keys tables (ingestion/models.py and its migrations): their indexes."""

from __future__ import annotations

from django.db import connection


def test_the_key_table_carries_only_its_unique_index_and_no_foreign_keys(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'ingestion_eventkey' ORDER BY 1"
        )
        assert [row[0] for row in cursor.fetchall()] == [
            "event_unique_per_project",
            "ingestion_eventkey_pkey",
        ]
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'ingestion_eventkey'::regclass"
            " AND contype = 'f'"
        )
        assert cursor.fetchone()[0] == 0


def test_the_event_table_has_its_brin_and_per_project_indexes(db):
    # Time ranges by BRIN; per-project lookups by session, type (covering the funnel's
    # columns) and user by btree; every partition inherits them.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ingestion_event'"
        )
        indexes = {name: definition.split(" USING ", 1)[1] for name, definition in cursor}
    assert indexes == {
        "ingestion_event_timestamp_brin": 'brin ("timestamp")',
        "ingestion_event_received_brin": "brin (received_at)",
        "ingestion_event_session": 'btree (project_id, session_id, "timestamp")',
        # org_id first: the RLS policy is an index condition, not a per-row filter.
        "ingestion_event_type_covering": 'btree (org_id, project_id, event_type, "timestamp") '
        "INCLUDE (session_id, user_id, anonymous_id, event_id, page_path)",
        "ingestion_event_user": 'btree (project_id, user_id, "timestamp") '
        "WHERE (user_id IS NOT NULL)",
    }
