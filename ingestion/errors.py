"""Stable error codes of POST /v1/events (api.md)."""

from enum import StrEnum


class IngestionErrorCode(StrEnum):
    """Whole-request errors of the ingestion endpoint."""

    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INVALID_JSON = "invalid_json"
    INVALID_BODY = "invalid_body"
    BATCH_TOO_LARGE = "batch_too_large"
    RATE_LIMITED = "rate_limited"
