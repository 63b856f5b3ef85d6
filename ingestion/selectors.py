"""Reads of stored events that the apps downstream use (sessions, journeys)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import F

from ingestion.catalog import BY_KEY, FIELDS
from ingestion.models import Event

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(column: str) -> str:
    """SQL for a timestamptz column as integer microseconds since the epoch.

    Folds read tens of thousands of timestamps at a time; Django's timestamptz loader
    parses each one from ISO text in Python (measured: 4 µs a value, a quarter of a
    session fold), psycopg's integer loader is C, and `from_epoch_us` costs ~0.3 µs.
    """
    return f"(extract(epoch FROM {column}) * 1000000)::bigint"


def from_epoch_us(microseconds: int) -> datetime:
    """Integer microseconds since the epoch (`epoch_us`'s column) as a datetime."""
    return _EPOCH + timedelta(microseconds=microseconds)


def sessions_with_events(
    *, org_id: int, project_id: int, since: datetime | None = None
) -> list[str]:
    """Every session id with events (at or after `since`, by event time) in a project."""
    query = "SELECT DISTINCT session_id FROM ingestion_event WHERE org_id = %s AND project_id = %s"
    params: list = [org_id, project_id]
    if since is not None:
        query += " AND timestamp >= %s"
        params.append(since)
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return [row[0] for row in cursor.fetchall()]


def session_event_rows(
    *, org_id: int, project_id: int, session_id: str, limit: int = 1000
) -> list[Event]:
    """A session's events in session order (timestamp, sequence, arrival), for display."""
    return list(
        Event.objects.filter(org_id=org_id, project_id=project_id, session_id=session_id)
        .order_by("timestamp", F("sequence").asc(nulls_last=True), "id")
        .only(
            "id",
            "timestamp",
            "sequence",
            "event_type",
            "event_name",
            "page_path",
            "ui_component_name",
            "event_id",
        )[:limit]
    )


_WIRE = [(field.key, field.column, field.kind) for field in FIELDS]


def _json(value: Any) -> Any:
    # Django's psycopg backend hands jsonb over as text on raw cursors.
    return json.loads(value) if isinstance(value, str) else value


def _select(column: str, kind: str) -> str:
    return epoch_us(column) if kind == "timestamp" else column


_LOADERS: dict[str, Callable[[Any], Any]] = {
    "timestamp": from_epoch_us,
    "json": lambda value: _json(value),
    "object": lambda value: _json(value),
}


def wire_reader(
    wire: Sequence[tuple[str, str, str]] = _WIRE,
) -> Callable[[Sequence[Any], Any], dict[str, Any]]:
    """A function turning a row of `wire` columns, selected with `_select`, (+ attributes)
    into `{wire key: value}` for matching; a NULL column is left out, as if absent.

    Keys and converters are worked out once per query, and only timestamps and JSON are
    converted: a conversion call per value was 15 % of re-matching 5,000 sessions.
    """
    keys = [key for key, _, _ in wire]
    loaders = [(key, _LOADERS[kind]) for key, _, kind in wire if kind in _LOADERS]

    def read(row: Sequence[Any], attributes: Any) -> dict[str, Any]:
        event = {key: value for key, value in zip(keys, row, strict=True) if value is not None}
        for key, load in loaders:
            if key in event:
                event[key] = load(event[key])
        if attributes is not None:
            event.update(_json(attributes))
        return event

    return read


def session_event_dicts(
    *,
    org_id: int,
    project_id: int,
    session_ids: Sequence[str],
    fields: set[str] | None = None,
    where: tuple[str, list[Any]] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Each session's events as wire dicts, in session order; `_id` holds the row id.

    With `fields`, only those keys (plus session id and timestamp) are loaded: matching a
    journey reads a handful of columns, not all 45. `where` (SQL over the alias `e`, and
    its parameters) keeps only the events it is true for.
    """
    wire = _WIRE
    if fields is not None:
        keep = fields | {"session.id", "event.timestamp"}
        wire = [item for item in _WIRE if item[0] in keep]
    with_attributes = fields is None or any(key not in BY_KEY for key in fields)
    columns = ", ".join(_select(column, kind) for _, column, kind in wire)
    condition, condition_params = where if where is not None else ("TRUE", [])
    query = (
        f"SELECT id, {'attributes' if with_attributes else 'NULL'}, {columns}"  # noqa: S608
        " FROM ingestion_event e"
        " WHERE org_id = %s AND project_id = %s AND session_id = ANY(%s)"
        f" AND {condition}"
        " ORDER BY session_id, timestamp, sequence ASC NULLS LAST, id"
    )
    sessions: dict[str, list[dict[str, Any]]] = {}
    read = wire_reader(wire)
    with connection.cursor() as cursor:
        cursor.execute(query, [org_id, project_id, list(session_ids), *condition_params])
        for row_id, attributes, *row in cursor.fetchall():
            event = read(row, attributes)
            event["_id"] = row_id
            sessions.setdefault(event["session.id"], []).append(event)
    return sessions
