"""OpenAPI schema of POST /v1/events, derived from the event catalog."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

from ingestion.body import MAX_EVENTS
from ingestion.catalog import FIELDS, MAX_ATTRIBUTES, Field

_JSON_VALUE: dict[str, Any] = {}  # any JSON value


def field_schema(field: Field) -> dict[str, Any]:
    """Return the JSON schema of one catalog field (nullable unless required)."""
    schema: dict[str, Any]
    if field.kind == "string":
        schema = {"type": "string"}
        if field.choices:
            schema["enum"] = list(field.choices)
        if field.min_length:
            schema["minLength"] = field.min_length
        if field.max_length is not None:
            schema["maxLength"] = field.max_length
    elif field.kind == "timestamp":
        schema = {"type": "string", "format": "date-time"}
    elif field.kind in ("integer", "number"):
        schema = {"type": "number" if field.rounded else field.kind}
        if field.minimum is not None:
            schema["minimum"] = field.minimum
        if field.maximum is not None:
            schema["maximum"] = field.maximum
    elif field.kind == "object":
        schema = {"type": "object", "additionalProperties": True}
    else:
        schema = dict(_JSON_VALUE)
    if field.description:
        schema["description"] = field.description
    if not field.required and field.kind != "json":
        schema["nullable"] = True
    return schema


EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        f"A flat object of dotted keys (events.md). Other keys are kept as attributes "
        f"(at most {MAX_ATTRIBUTES})."
    ),
    "required": [field.key for field in FIELDS if field.required],
    "properties": {
        **{field.key: field_schema(field) for field in FIELDS},
        "project_id": {"type": "string", "nullable": True},
        "product_id": {"type": "string", "nullable": True},
    },
    "additionalProperties": True,
}

BATCH_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {"type": "array", "maxItems": MAX_EVENTS, "items": EVENT_SCHEMA},
        "api_key": {
            "type": "string",
            "description": "The project's ingest key (pk_...), for a client that cannot set "
            "headers (navigator.sendBeacon). Never a secret key; a header or ?api_key= key "
            "that differs is a 400 conflicting_api_keys.",
        },
    },
    "additionalProperties": True,
}

INGEST_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": ["accepted", "duplicates", "rejected", "errors"],
    "properties": {
        "accepted": {"type": "integer"},
        "duplicates": {"type": "integer"},
        "rejected": {"type": "integer"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "field", "code", "message"],
                "properties": {
                    "index": {"type": "integer"},
                    "field": {"type": "string", "nullable": True},
                    "code": {"type": "string", "enum": ["invalid", "required", "too_old"]},
                    "message": {"type": "string"},
                },
            },
        },
    },
}

ERROR_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


# Every JSON door's whole-request errors (api.md, "Checks, in order").
DOOR_ERRORS: tuple[tuple[int, str], ...] = (
    (400, "invalid_json, invalid_body, batch_too_large or conflicting_api_keys"),
    (401, "missing_api_key, invalid_api_key or wrong_key_kind (a secret key outside the headers)"),
    (403, "forbidden (a write refused by Row-Level Security)"),
    (405, "method_not_allowed"),
    (413, "payload_too_large"),
    (415, "unsupported_media_type"),
    (429, "rate_limited (with Retry-After)"),
    (503, "unavailable (with Retry-After)"),
)


def error_responses(
    schema: dict[str, Any], differing: dict[int, str] | None = None
) -> dict[int, OpenApiResponse]:
    """`DOOR_ERRORS`, each answered with `schema` (a door's error body); `differing` gives
    the descriptions of a door whose codes differ."""
    texts = {**dict(DOOR_ERRORS), **(differing or {})}
    return {code: OpenApiResponse(schema, description=text) for code, text in texts.items()}


class RequiredBodySchema(AutoSchema):
    """The view's schema with `requestBody.required: true`: a request without a body is
    refused (415), but drf-spectacular marks a body given as a raw schema optional."""

    def _get_request_body(self, direction="request"):
        request_body = super()._get_request_body(direction)
        if request_body is not None:
            request_body["required"] = True
        return request_body
