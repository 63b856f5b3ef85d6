"""The catalog is the single source: table, model, COPY columns, OpenAPI and docs agree."""

from __future__ import annotations

from pathlib import Path

from django.db import connection

from ingestion import reference
from ingestion.catalog import FIELDS
from ingestion.ddl import COPY_COLUMNS, COPY_TYPES, SERVER_COLUMNS, SQL_TYPES
from ingestion.models import Event
from ingestion.openapi import EVENT_SCHEMA

_PG_TYPES = {
    "text": "text",
    "bigint": "bigint",
    "double precision": "double precision",
    "timestamptz": "timestamp with time zone",
    "jsonb": "jsonb",
}


def test_live_table_has_exactly_the_catalog_and_server_columns(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_name = 'ingestion_event' ORDER BY ordinal_position"
        )
        live = {name: (kind, nullable) for name, kind, nullable in cursor.fetchall()}
    for field in FIELDS:
        kind, nullable = live[field.column]
        assert kind == _PG_TYPES[SQL_TYPES[field.kind]], field.key
        assert (nullable == "NO") == field.required, field.key
    assert set(live) == {"id", *COPY_COLUMNS}


def test_the_binary_copy_sends_each_column_in_the_tables_own_type(db):
    # The write path's binary COPY declares COPY_TYPES; a wrong one is refused or misread.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = 'ingestion_event'::regclass AND attnum > 0 AND NOT attisdropped"
        )
        live = dict(cursor.fetchall())
    canonical = {"timestamptz": "timestamp with time zone"}
    declared = {
        column: canonical.get(kind, kind)
        for column, kind in zip(COPY_COLUMNS, COPY_TYPES, strict=True)
    }
    assert declared == {column: live[column] for column in COPY_COLUMNS}


def test_model_fields_come_from_the_catalog():
    columns = {field.column for field in Event._meta.concrete_fields}
    assert columns == {"id", *COPY_COLUMNS}
    assert COPY_COLUMNS[-len(SERVER_COLUMNS) :] == SERVER_COLUMNS


def test_openapi_event_schema_lists_every_catalog_key():
    assert set(EVENT_SCHEMA["properties"]) == {f.key for f in FIELDS} | {"project_id", "product_id"}
    assert EVENT_SCHEMA["required"] == [f.key for f in FIELDS if f.required]


def test_served_openapi_document_carries_the_event_schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    operation = schema["paths"]["/v1/events"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]["events"]["items"]["properties"]) >= {f.key for f in FIELDS}
    assert {"202", "400", "401", "413", "415", "429", "503"} <= set(operation["responses"])


def test_docs_field_reference_is_generated_from_the_catalog():
    page = Path(__file__).resolve().parents[2] / "docs" / "reference" / "events.md"
    assert page.read_text() == reference.render(), (
        "regenerate it: python -m ingestion.reference > docs/reference/events.md"
    )


def test_every_millisecond_field_takes_a_browsers_fractional_number():
    # performance.now() measures in fractional milliseconds: a `*_ms` field is a double, or
    # an integer column that rounds (ADR 0002, "Fractional milliseconds").
    for field in FIELDS:
        if field.key.endswith("_ms"):
            assert field.kind == "number" or field.rounded, field.key
        if field.rounded:
            assert field.kind == "integer" and field.maximum is not None, field.key
            assert EVENT_SCHEMA["properties"][field.key]["type"] == "number", field.key
