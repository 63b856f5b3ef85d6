"""Contract fuzzing of the REST API from its own OpenAPI document (schemathesis).

Beyond "no 5xx" and the schema's own statuses, content types and bodies, every 4xx must be
the one documented error envelope, `{"error": {"code", "message"}}`, with a code that
docs/reference/api.md lists for that status (the Segment door repeats `code` and `message`
at the top level, where Segment's clients read them: segment.md). The OTLP door's bodies
are protobuf or OTLP/JSON and its errors `google.rpc.Status`:
tests/ingestion/otlp/test_views.py fuzzes it with its own encodings.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from productgraph.wsgi import application

# docs/reference/api.md, "Checks, in order", plus the kernel's JSON 404 handler.
DOCUMENTED_CODES = {
    400: {
        "invalid_json",
        "invalid_body",
        "batch_too_large",
        "invalid_request",
        "conflicting_api_keys",
    },
    401: {"missing_api_key", "invalid_api_key", "wrong_key_kind"},
    403: {"forbidden"},
    404: {"not_found"},
    405: {"method_not_allowed"},
    413: {"payload_too_large"},
    415: {"unsupported_media_type"},
    429: {"rate_limited"},
}

OTLP_PATHS = r"^/v1/(logs|traces)$"
schema = schemathesis.openapi.from_wsgi("/api/schema/", application).exclude(path_regex=OTLP_PATHS)


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Like Django's test client: the raw WSGI app must not close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schemathesis.check
def client_errors_use_the_envelope(ctx, response, case) -> None:
    """Every 4xx is `{"error": {"code", "message"}}` with a code documented for its status."""
    if not 400 <= response.status_code < 500:
        return
    body = response.json()
    assert isinstance(body, dict), body
    if set(body) == {"error", "code", "message"}:  # the Segment door's (segment.md)
        assert (body["code"], body["message"]) == (body["error"]["code"], body["error"]["message"])
        body = {"error": body["error"]}
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message"}, body
    assert isinstance(error["message"], str) and error["message"], body
    assert error["code"] in DOCUMENTED_CODES.get(response.status_code, set()), (
        response.status_code,
        body,
    )


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_never_answers_5xx_nor_breaks_its_schema(case, acme):
    case.call_and_validate(
        headers={"X-PG-API-Key": acme.ingest_key},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            client_errors_use_the_envelope,
        ],
    )
