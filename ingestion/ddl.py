"""SQL types of catalog columns, and the column order of the write path."""

from __future__ import annotations

from ingestion.catalog import FIELDS

SQL_TYPES = {
    "string": "text",
    "integer": "bigint",
    "number": "double precision",
    "timestamp": "timestamptz",
    "json": "jsonb",
    "object": "jsonb",
}

# The order in which the write path COPYs a row: catalog columns, then server-set ones.
CATALOG_COLUMNS: tuple[str, ...] = tuple(field.column for field in FIELDS)
SERVER_COLUMNS: tuple[str, ...] = (
    "org_id",
    "project_id",
    "attributes",
    "received_at",
    "user_agent",
)
COPY_COLUMNS: tuple[str, ...] = CATALOG_COLUMNS + SERVER_COLUMNS
# Their SQL types, in that order: the write path's binary COPY sends each value in its
# type's binary format (a test checks them against the table).
_SERVER_TYPES = {
    "org_id": "bigint",
    "project_id": "bigint",
    "attributes": "jsonb",
    "received_at": "timestamptz",
    "user_agent": "text",
}
COPY_TYPES: tuple[str, ...] = tuple(SQL_TYPES[field.kind] for field in FIELDS) + tuple(
    _SERVER_TYPES[column] for column in SERVER_COLUMNS
)


def column_definitions() -> list[str]:
    """Return `name type [NOT NULL]` for every catalog column (used to write the migration)."""
    return [
        f"{field.column} {SQL_TYPES[field.kind]}{' NOT NULL' if field.required else ''}"
        for field in FIELDS
    ]
