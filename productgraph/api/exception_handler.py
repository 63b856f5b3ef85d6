"""DRF's exception handler, rendering every error in the envelope (see errors.py)."""

from __future__ import annotations

from django.db import connection, transaction
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from productgraph.api.errors import (
    RETRY_AFTER_SECONDS,
    RLS_MESSAGE,
    UNAVAILABLE_MESSAGE,
    CodedAPIException,
    ErrorCode,
    error_body,
)
from productgraph.dberrors import is_database_unavailable, is_rls_violation

_DRF_CODES = {
    exceptions.NotAuthenticated: ErrorCode.NOT_AUTHENTICATED,
    exceptions.PermissionDenied: ErrorCode.FORBIDDEN,
    exceptions.NotFound: ErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    exceptions.Throttled: ErrorCode.RATE_LIMITED,
}


def _message(detail) -> str:
    if isinstance(detail, list):
        return "; ".join(_message(item) for item in detail)
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_message(value)}" for key, value in detail.items())
    return str(detail)


def set_rollback() -> None:
    """Mark the request's transaction for rollback after a handled database error.

    DRF's own helper does this only under ATOMIC_REQUESTS; the tenancy middleware opens the
    transaction instead. Other API errors (4xx) leave the transaction alone.
    """
    if connection.in_atomic_block:
        transaction.set_rollback(True)


def exception_handler(exc, context):
    """DRF exception handler: every error in the envelope, DB outages as 503."""
    if is_database_unavailable(exc):
        set_rollback()
        return Response(
            error_body(ErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if is_rls_violation(exc):
        set_rollback()
        return Response(
            error_body(ErrorCode.FORBIDDEN, RLS_MESSAGE), status=status.HTTP_403_FORBIDDEN
        )
    if isinstance(exc, Http404):  # DRF turns it into NotFound below, but keeps `exc`
        exc = exceptions.NotFound(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: let Django log it and answer 500
    if isinstance(exc, CodedAPIException):
        code = exc.get_codes()
    else:
        code = next(
            (value for cls, value in _DRF_CODES.items() if isinstance(exc, cls)),
            ErrorCode.INVALID_REQUEST,
        )
    response.data = error_body(str(code), _message(getattr(exc, "detail", str(exc))))
    return response
