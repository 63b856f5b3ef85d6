"""The one error envelope: `{"error": {"code": "...", "message": "..."}}`.

DRF views, plain Django views and the middleware all render errors through `error_response`
so clients see the same shape and stable codes everywhere.
"""

from __future__ import annotations

from enum import StrEnum

from django.http import JsonResponse
from rest_framework import exceptions, status

from productgraph.api.renderers import JSON_CONTENT_TYPE

RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = "The database is unavailable; retry later."
RLS_MESSAGE = "This organization may not access that row."


class ErrorCode(StrEnum):
    """Codes shared by every endpoint; apps add their own enums."""

    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNAVAILABLE = "unavailable"
    INTERNAL_ERROR = "internal_error"
    INVALID_REQUEST = "invalid_request"
    NOT_AUTHENTICATED = "not_authenticated"
    RATE_LIMITED = "rate_limited"


def error_body(code: str, message: str) -> dict:
    """Return the envelope for one whole-request error."""
    return {"error": {"code": str(code), "message": message}}


def error_response(
    status_code: int, code: str, message: str, *, headers: dict[str, str] | None = None
) -> JsonResponse:
    """Render the envelope outside DRF (middleware, plain views, handlers)."""
    return JsonResponse(
        error_body(code, message),
        status=status_code,
        headers=headers,
        content_type=JSON_CONTENT_TYPE,
    )


def unavailable_response() -> JsonResponse:
    """503 for a database that cannot be reached: the client should retry."""
    return error_response(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        ErrorCode.UNAVAILABLE,
        UNAVAILABLE_MESSAGE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def rls_violation_response() -> JsonResponse:
    """403 for a write that Row-Level Security refused."""
    return error_response(status.HTTP_403_FORBIDDEN, ErrorCode.FORBIDDEN, RLS_MESSAGE)


class CodedAPIException(exceptions.APIException):
    """An API error with a stable code from one of the apps' `StrEnum`s."""

    def __init__(self, code: str, message: str, status_code: int | None = None) -> None:
        super().__init__(detail=message, code=str(code))
        if status_code is not None:
            self.status_code = status_code
