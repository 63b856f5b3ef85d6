"""The OTLP/HTTP answers, in the request's encoding (OTLP spec, "OTLP/HTTP Response").

Success is 200 with an `Export*ServiceResponse` whose `partial_success` counts the refused
records and names the first problems; every error is a `google.rpc.Status` with the HTTP
status's gRPC code, the message, and our stable error code as an `ErrorInfo` detail
(`reason`, domain `productgraph`). A protobuf request gets protobuf; anything else gets JSON.
The JSON is `google.protobuf.json_format`'s: once per answer, never per record.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from google.protobuf import json_format
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from ingestion.otlp.decoding import PROTOBUF

ERROR_DOMAIN = "productgraph"

# The gRPC code a `google.rpc.Status` carries for each HTTP status we answer.
GRPC_CODES = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    403: code_pb2.PERMISSION_DENIED,
    404: code_pb2.NOT_FOUND,
    405: code_pb2.UNIMPLEMENTED,
    408: code_pb2.DEADLINE_EXCEEDED,
    413: code_pb2.RESOURCE_EXHAUSTED,
    415: code_pb2.INVALID_ARGUMENT,
    429: code_pb2.RESOURCE_EXHAUSTED,
    503: code_pb2.UNAVAILABLE,
}


def _render(message: Any, encoding: str, status: int, headers: dict[str, str]) -> HttpResponse:
    if encoding == PROTOBUF:
        content, content_type = message.SerializeToString(), PROTOBUF
    else:
        content = json_format.MessageToJson(message, indent=None).encode()
        content_type = "application/json"
    response = HttpResponse(content, status=status, content_type=content_type)
    for name, value in headers.items():
        response[name] = value
    return response


def export_response(signal: str, encoding: str, rejected: int, message: str) -> HttpResponse:
    """200 for an export of `signal` ("logs" or "traces"): empty when every record was
    stored (or already was), else `partial_success` with `rejected` and `message`."""
    if signal == "logs":
        answer: Any = ExportLogsServiceResponse()
        if rejected:
            answer.partial_success.rejected_log_records = rejected
    else:
        answer = ExportTraceServiceResponse()
        if rejected:
            answer.partial_success.rejected_spans = rejected
    if rejected:
        answer.partial_success.error_message = message
    return _render(answer, encoding, 200, {})


def status_response(
    encoding: str, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> HttpResponse:
    """An error answer: HTTP `status` with a `google.rpc.Status` (and `headers`, such as
    Retry-After on 429 and 503)."""
    answer = status_pb2.Status(code=GRPC_CODES.get(status, code_pb2.UNKNOWN), message=message)
    answer.details.add().Pack(error_details_pb2.ErrorInfo(reason=code, domain=ERROR_DOMAIN))
    return _render(answer, encoding, status, headers or {})
