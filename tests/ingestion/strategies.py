"""Hypothesis strategies for events, derived from the catalog."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from ingestion.catalog import FIELDS, Field

_TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_JSON_SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(_TEXT, max_size=20)
)
JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(_TEXT, max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
TIMESTAMPS = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2026, 11, 1), timezones=st.just(UTC)
)


def rfc3339(moment: datetime) -> str:
    """Format like an SDK would: microseconds and a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def value_for(field: Field) -> st.SearchStrategy:
    """Return a strategy of valid wire values of one field."""
    if field.kind == "timestamp":
        return TIMESTAMPS.map(rfc3339)
    if field.choices:
        return st.sampled_from(field.choices)
    if field.kind == "string":
        limit = min(field.max_length or 200, 40)
        return st.text(_TEXT, min_size=max(field.min_length, 0), max_size=limit)
    if field.kind == "integer":
        integers = st.integers(int(field.minimum or 0), int(min(field.maximum or 2**62, 2**62)))
        if field.rounded:  # a browser's fractional milliseconds
            return integers | st.floats(field.minimum or 0.0, 1e12)
        return integers
    if field.kind == "number":
        return st.floats(
            field.minimum or 0.0, field.maximum or 1e12, allow_nan=False, allow_infinity=False
        )
    if field.kind == "object":
        return st.dictionaries(st.text(_TEXT, max_size=8), JSON_VALUES, max_size=4)
    return JSON_VALUES.filter(lambda value: value is not None)


@st.composite
def events(draw, event_id: str | None = None) -> dict:
    """A valid event: the required fields and any subset of the optional ones."""
    raw = {}
    for field in FIELDS:
        if field.required or draw(st.booleans()):
            raw[field.key] = draw(value_for(field))
    raw["event_id"] = event_id or draw(st.uuids()).hex
    return raw


def invalid_value_for(field: Field) -> st.SearchStrategy:
    """Return a strategy of values that must be rejected for `field`."""
    options: list[st.SearchStrategy[Any]] = []
    if field.kind != "json":
        options.append(st.just(["not", "scalar"]))
    if field.kind == "string" and field.max_length:
        options.append(st.just("x" * (field.max_length + 1)))
    if field.choices:
        options.append(st.just("definitely-not-allowed"))
    if field.kind in ("integer", "number") and field.minimum is not None:
        options.append(st.just(field.minimum - 1))
    if field.kind == "timestamp":
        options.append(st.just("2026-01-15T10:30:00"))
    if field.kind == "json":
        options.append(st.just("x" * (40 * 1024)))
    return st.one_of(*options)
