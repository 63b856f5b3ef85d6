"""The event catalog: the one list of wire keys, types, limits and columns (events.md).

The validator, the model, the COPY column list, the OpenAPI schema and the docs' field
reference are all derived from `FIELDS`, or checked against it by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["string", "integer", "number", "timestamp", "json", "object"]

EVENT_TYPES: tuple[str, ...] = (
    "page.view",
    "page.leave",
    "ui.click",
    "ui.input",
    "ui.scroll",
    "ui.focus",
    "ui.blur",
    "ui.submit",
    "ui.hover",
    "state.change",
    "api.request",
    "api.response",
    "journey.step",
    "journey.conversion",
    "error",
    "performance",
    "snapshot.captured",
    "custom",
)

KB = 1024
BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class Field:
    """One wire key of an event and the column it is stored in."""

    key: str
    column: str
    kind: Kind
    required: bool = False
    min_length: int = 0
    max_length: int | None = None  # characters for strings
    max_bytes: int | None = None  # UTF-8 bytes (strings) or serialized bytes (JSON)
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    # An integer field that takes any number and rounds it half-to-even (Python's round()):
    # browsers measure durations with performance.now(), in fractional milliseconds, and
    # the column stays a bigint (ADR 0002, "Fractional milliseconds").
    rounded: bool = False
    description: str = ""


def _s(key: str, column: str, max_length: int, description: str = "", **extra) -> Field:
    return Field(key, column, "string", max_length=max_length, description=description, **extra)


FIELDS: tuple[Field, ...] = (
    Field("event_id", "event_id", "string", required=True, min_length=1, max_length=128,
          description="unique per project: resending it is a duplicate, never a second row"),
    Field("session.id", "session_id", "string", required=True, min_length=1, max_length=255),
    Field("event.type", "event_type", "string", required=True, choices=EVENT_TYPES),
    Field("event.timestamp", "timestamp", "timestamp", required=True,
          description="RFC 3339 with offset; at most 24 h after the server receives it; "
                      "not older than the organization's retention (api.md)"),
    _s("user.id", "user_id", 255),
    _s("user.anonymous_id", "anonymous_id", 255),
    _s("event.name", "event_name", 255),
    Field("event.sequence", "sequence", "integer", minimum=0, maximum=BIGINT_MAX),
    _s("page.path", "page_path", 1024),
    _s("page.title", "page_title", 255),
    _s("page.url", "page_url", 2048),
    _s("page.referrer", "page_referrer", 2048),
    _s("ui.component.name", "ui_component_name", 255),
    _s("ui.component.path", "ui_component_path", 1024, "slash-separated tree path"),
    _s("ui.component.type", "ui_component_type", 100),
    _s("ui.action", "ui_action", 100,
       "click, input, scroll, hover, focus, blur, submit, change"),
    _s("ui.element", "ui_element", 255),
    _s("ui.element.text", "ui_element_text", 500),
    _s("ui.viewport", "ui_viewport", 50, "usually WIDTHxHEIGHT (not enforced)"),
    Field("ui.scroll.position", "ui_scroll_position", "number", minimum=0.0, maximum=1.0),
    _s("ui.state.key", "ui_state_key", 255),
    Field("ui.state.before", "ui_state_before", "json", max_bytes=32 * KB,
          description="any JSON; a string is kept as a string"),
    Field("ui.state.after", "ui_state_after", "json", max_bytes=32 * KB,
          description="any JSON; a string is kept as a string"),
    Field("ui.state.change_type", "ui_state_change_type", "string",
          choices=("set", "update", "delete", "reset", "merge")),
    _s("gen_ai.journey.id", "journey_key", 255, "the journey's key (a slug)"),
    _s("gen_ai.journey.step.id", "journey_step_id", 255),
    _s("gen_ai.journey.step.name", "journey_step_name", 255),
    Field("gen_ai.journey.conversion.status", "conversion_status", "string",
          choices=("pending", "converted", "dropped", "bounced", "abandoned")),
    _s("api.method", "api_method", 10),
    _s("api.path", "api_path", 1024),
    Field("api.status_code", "api_status_code", "integer", minimum=100, maximum=599),
    Field("api.duration_ms", "api_duration_ms", "integer", minimum=0, maximum=BIGINT_MAX,
          rounded=True),
    _s("error.type", "error_type", 255),
    Field("error.message", "error_message", "string", max_bytes=8 * KB),
    Field("error.stack", "error_stack", "string", max_bytes=64 * KB),
    _s("error.component", "error_component", 255),
    Field("performance.lcp_ms", "performance_lcp_ms", "number", minimum=0.0),
    Field("performance.fid_ms", "performance_fid_ms", "number", minimum=0.0),
    Field("performance.inp_ms", "performance_inp_ms", "number", minimum=0.0),
    Field("performance.cls", "performance_cls", "number", minimum=0.0),
    Field("performance.ttfb_ms", "performance_ttfb_ms", "number", minimum=0.0),
    _s("snapshot.url", "snapshot_url", 1024),
    _s("snapshot.viewport", "snapshot_viewport", 50),
    Field("duration_ms", "duration_ms", "integer", minimum=0, maximum=BIGINT_MAX, rounded=True),
    Field("metadata", "metadata", "object", max_bytes=16 * KB),
)  # fmt: skip

BY_KEY: dict[str, Field] = {field.key: field for field in FIELDS}
REQUIRED: tuple[Field, ...] = tuple(field for field in FIELDS if field.required)

# Keys that are read but never stored as columns (events.md).
PROJECT_KEYS = ("project_id", "product_id")  # must match the key's project when present
IGNORED_KEYS = ("org.id",)  # the organization always comes from the key

# Any other key is kept in the `attributes` jsonb column, within these limits.
MAX_ATTRIBUTES = 64
MAX_ATTRIBUTES_BYTES = 16 * KB
MAX_EVENT_BYTES = 100 * KB
MAX_FUTURE_SECONDS = 24 * 3600
