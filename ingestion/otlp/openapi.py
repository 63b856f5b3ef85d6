"""The OTLP door in the OpenAPI document: OTLP/HTTP's bodies and answers (otlp.md).

The messages are OpenTelemetry's (`opentelemetry-proto`), not re-described here: protobuf
bodies are binary, JSON bodies are OTLP/JSON objects, and errors are `google.rpc.Status`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse

from ingestion.openapi import error_responses
from ingestion.otlp.decoding import JSON, PROTOBUF

_SPEC = "https://opentelemetry.io/docs/specs/otlp/#otlphttp"


def request_body(message: str) -> dict[str, Any]:
    """`message` (e.g. ExportLogsServiceRequest) in either encoding OTLP/HTTP defines."""
    described = {
        "type": "object",
        "description": f"An OTLP/JSON {message} ({_SPEC}); otlp.md says what maps where.",
        "additionalProperties": True,
    }
    return {PROTOBUF: OpenApiTypes.BINARY, JSON: described}


STATUS: dict[str, Any] = {
    "type": "object",
    "description": "google.rpc.Status: the gRPC code, the message, and an ErrorInfo detail "
    "whose reason is our stable error code (otlp.md). Protobuf for a protobuf request.",
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
    },
}


def responses(message: str, rejected: str) -> dict[int, OpenApiResponse]:
    """The answers of an export endpoint whose response message is `message`."""
    success = {
        "type": "object",
        "description": f"{message}, in the request's encoding: `partialSuccess.{rejected}` "
        "counts the records refused and `errorMessage` names the first problems.",
        "additionalProperties": True,
    }
    return {
        200: OpenApiResponse(success, description="stored (duplicates included) or refused"),
        **error_responses(
            STATUS, {400: "invalid_body, batch_too_large or conflicting_api_keys (no retry)"}
        ),
    }
