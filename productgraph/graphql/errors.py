"""GraphQL errors in the house envelope: every error carries a stable `extensions.code`.

A GraphQL error is `{"message": ..., "locations": ..., "path": ..., "extensions": {"code":
...}}`: the same code and message the REST envelope (`productgraph.api.errors`) would
carry in `{"error": {"code", "message"}}`. A request refused before anything runs (no or a
wrong credential, no org, a bad method) is answered with both: the REST envelope under
`error` and the same error as the only entry of `errors`, so REST and GraphQL clients each
find it where they look.

Resolvers raise `CodedGraphQLError`; anything else that escapes a resolver is a bug or a
database failure: it is logged with its traceback and reaches the client only as
`internal_error` (or `unavailable` / `forbidden` for a database outage / an RLS refusal).
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from django.db import DatabaseError
from django.http import JsonResponse
from graphql import GraphQLError

from productgraph.api.errors import (
    RLS_MESSAGE,
    UNAVAILABLE_MESSAGE,
    ErrorCode,
    error_body,
)
from productgraph.dberrors import is_database_unavailable, is_query_canceled, is_rls_violation

logger = logging.getLogger(__name__)

INTERNAL_MESSAGE = "Internal server error."
TIMEOUT_MESSAGE = (
    "A statement of this request ran past its timeout and was cancelled; ask for less "
    "(smaller pages, fewer fields) or narrow the filters."
)


class GraphQLErrorCode(StrEnum):
    """Codes of the GraphQL edge itself; apps add their own (e.g. `invalid_definition`)."""

    PAGE_SIZE_TOO_LARGE = "page_size_too_large"
    INVALID_ARGUMENT = "invalid_argument"
    INVALID_CURSOR = "invalid_cursor"
    QUERY_TOO_DEEP = "query_too_deep"
    QUERY_TOO_COMPLEX = "query_too_complex"
    QUERY_TOO_LARGE = "query_too_large"
    QUERY_TIMEOUT = "query_timeout"
    ORG_REQUIRED = "org_required"


class CodedGraphQLError(GraphQLError):
    """An expected error with a stable code; extra keyword arguments join `extensions`."""

    def __init__(self, code: str, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": str(code), **extensions})


class RequestRefused(Exception):
    """The request is refused before any resolver runs (authentication, org, method)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = str(code)
        self.message = message

    def response(self) -> JsonResponse:
        """Render the REST envelope plus the same error as a GraphQL `errors` entry."""
        body = error_body(self.code, self.message)
        body["errors"] = [{"message": self.message, "extensions": {"code": self.code}}]
        return JsonResponse(body, status=self.status)


def is_database_error(error: Exception) -> bool:
    """True when a resolver failed on a database error (the transaction needs a rollback)."""
    # graphene also reports plain exceptions (not GraphQLError) in a result's errors.
    return isinstance(getattr(error, "original_error", None), DatabaseError)


def format_error(error: Exception) -> dict[str, Any]:
    """Return the client's view of one error: always with `extensions.code`."""
    if not isinstance(error, GraphQLError):
        logger.error("GraphQL request failed", exc_info=error)
        return {"message": INTERNAL_MESSAGE, "extensions": {"code": ErrorCode.INTERNAL_ERROR}}
    formatted: dict[str, Any] = dict(error.formatted)
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        # Parse, validation and variable errors, and coded errors raised by resolvers.
        extensions = dict(error.extensions or {})
        extensions.setdefault("code", str(ErrorCode.INVALID_REQUEST))
        formatted["extensions"] = extensions
        return formatted
    code: str
    if is_database_unavailable(original):
        code, message = ErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE
    elif is_rls_violation(original):
        code, message = ErrorCode.FORBIDDEN, RLS_MESSAGE
    elif is_query_canceled(original):
        code, message = GraphQLErrorCode.QUERY_TIMEOUT, TIMEOUT_MESSAGE
    else:
        logger.error("GraphQL resolver failed at %s", error.path, exc_info=original)
        code, message = ErrorCode.INTERNAL_ERROR, INTERNAL_MESSAGE
    formatted["message"] = message
    formatted["extensions"] = {"code": str(code)}
    return formatted
