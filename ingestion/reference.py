"""Render the docs' event field reference from the catalog.

`python -m ingestion.reference > docs/reference/events.md`; a test fails when the committed
page and the catalog disagree.
"""

from __future__ import annotations

from ingestion.catalog import (
    EVENT_TYPES,
    FIELDS,
    MAX_ATTRIBUTES,
    MAX_ATTRIBUTES_BYTES,
    MAX_EVENT_BYTES,
    Field,
)
from ingestion.ddl import SQL_TYPES


def _rule(field: Field) -> str:
    parts = []
    if field.choices and field.key != "event.type":
        parts.append("one of " + ", ".join(f"`{choice}`" for choice in field.choices))
    if field.key == "event.type":
        parts.append("one of the 18 types below")
    if field.min_length:
        parts.append(f"{field.min_length} to {field.max_length} chars")
    elif field.max_length is not None:
        parts.append(f"≤ {field.max_length} chars")
    if field.max_bytes is not None:
        unit = "serialized" if field.kind in ("json", "object") else "UTF-8"
        parts.append(f"≤ {field.max_bytes // 1024} KB {unit}")
    if field.minimum is not None and field.maximum is not None and field.maximum < 2**62:
        parts.append(f"{_num(field.minimum)} to {_num(field.maximum)}")
    elif field.minimum is not None:
        parts.append(f"≥ {_num(field.minimum)}")
    if field.rounded:
        parts.append("a fraction is rounded half-to-even (124.5 → 124, 125.5 → 126)")
    if field.description:
        parts.append(field.description)
    return "; ".join(parts)


def _num(value: float) -> str:
    return f"{value:g}"


def render() -> str:
    """Return the Markdown of the field reference page."""
    lines = [
        "# Event fields",
        "",
        "Generated from `ingestion/catalog.py` by `python -m ingestion.reference`; do not edit.",
        "Absent and `null` mean not sent (stored as NULL); zero is a value.",
        "",
        "| key | type | required | rule | column |",
        "|---|---|---|---|---|",
    ]
    for field in FIELDS:
        kind = {"timestamp": "string (RFC 3339)", "json": "any JSON"}.get(field.kind, field.kind)
        if field.rounded:
            kind = "number"
        lines.append(
            f"| `{field.key}` | {kind} | {'yes' if field.required else ''} | {_rule(field)} "
            f"| `{field.column}` ({SQL_TYPES[field.kind]}) |"
        )
    lines += [
        "",
        f"Any other key is kept in the `attributes` jsonb column: at most {MAX_ATTRIBUTES} extra",
        f"keys and {MAX_ATTRIBUTES_BYTES // 1024} KB per event. One event serialized is at most",
        f"{MAX_EVENT_BYTES // 1024} KB. `project_id` (alias `product_id`) must equal the key's",
        "project public id or slug; `org.id` is ignored.",
        "",
        "## Event types",
        "",
        ", ".join(f"`{event_type}`" for event_type in EVENT_TYPES),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
