"""The Segment door in the OpenAPI document: its bodies and answers (segment.md)."""

from __future__ import annotations

from typing import Any

from ingestion.body import MAX_EVENTS
from ingestion.openapi import ERROR_RESPONSE, INGEST_RESPONSE, RequiredBodySchema, error_responses

_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
_KEY = {
    "type": "string",
    "description": "The project's ingest key (pk_...), Segment's write key; or send it as the "
    "HTTP Basic user. A different key elsewhere in the request is a 400.",
}

MESSAGE: dict[str, Any] = {
    "type": "object",
    "description": "A Segment-spec message; segment.md maps it field by field.",
    "properties": {
        "type": {"type": "string", "description": "track, page, screen, identify, group, alias"},
        "messageId": {"type": "string", "description": "the event_id: a resend is a duplicate"},
        "userId": {"type": "string", "nullable": True},
        "anonymousId": {"type": "string", "nullable": True},
        "event": {"type": "string", "description": "a track call's name"},
        "name": {"type": "string", "description": "a page or screen call's name"},
        "timestamp": {"type": "string", "format": "date-time"},
        "originalTimestamp": {"type": "string", "format": "date-time"},
        "sentAt": {"type": "string", "format": "date-time"},
        "properties": _OBJECT,
        "traits": _OBJECT,
        "context": _OBJECT,
        "integrations": _OBJECT,
        "writeKey": _KEY,
    },
    "additionalProperties": True,
}

BATCH: dict[str, Any] = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {"type": "array", "maxItems": MAX_EVENTS, "items": MESSAGE},
        "sentAt": {"type": "string", "format": "date-time"},
        "context": _OBJECT,
        "writeKey": _KEY,
    },
    "additionalProperties": True,
}

ANSWER: dict[str, Any] = {
    **INGEST_RESPONSE,
    "required": ["success", *INGEST_RESPONSE["required"], "ignored"],
    "properties": {
        "success": {"type": "boolean"},
        **INGEST_RESPONSE["properties"],
        "ignored": {"type": "integer", "description": "messages of a call type not stored"},
    },
}

# Our envelope, with its code and message repeated at the top level for Segment's clients.
ERROR: dict[str, Any] = {
    **ERROR_RESPONSE,
    "properties": {
        **ERROR_RESPONSE["properties"],
        "code": {"type": "string"},
        "message": {"type": "string"},
    },
}

RESPONSES = {200: ANSWER, **error_responses(ERROR)}


class SegmentSchema(RequiredBodySchema):
    """A batch on /v1/batch (and /v1/b), one message on the call endpoints; JSON or the
    text/plain a beacon sends."""

    def get_request_serializer(self) -> Any:
        body = BATCH if getattr(self.view, "call_type", None) is None else MESSAGE
        return {"application/json": body, "text/plain": body}
