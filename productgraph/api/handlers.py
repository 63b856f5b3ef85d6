"""Django's error handlers, answering in the JSON envelope."""

from django.http import JsonResponse

from productgraph.api.errors import ErrorCode, error_response


def bad_request(request, exception=None) -> JsonResponse:
    """400 raised by Django itself (an unknown Host header, a malformed request)."""
    return error_response(400, ErrorCode.INVALID_REQUEST, "Bad request.")


def permission_denied(request, exception=None) -> JsonResponse:
    """403 raised by Django itself (e.g. a CSRF failure)."""
    return error_response(403, ErrorCode.FORBIDDEN, "Forbidden.")


def csrf_failure(request, reason: str = "") -> JsonResponse:
    """403 for a form posted without a valid CSRF token (CSRF_FAILURE_VIEW)."""
    return error_response(
        403,
        ErrorCode.FORBIDDEN,
        f"CSRF check failed: {reason or 'no valid token'}. Reload the page and try again.",
    )


def not_found(request, exception=None) -> JsonResponse:
    """404 for any unknown path."""
    return error_response(404, ErrorCode.NOT_FOUND, "No such resource.")


def server_error(request) -> JsonResponse:
    """500: the details are in the log (with the request id), never in the response."""
    return error_response(500, ErrorCode.INTERNAL_ERROR, "Internal server error.")
