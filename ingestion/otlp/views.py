"""POST /v1/logs and /v1/traces: the OTLP/HTTP receiver (docs/reference/otlp.md, ADR 0007).

The same key, limits, rate limit and exactly-once write as `/v1/events` (`ingestion.door`);
only the body and the answers are OTLP's. Every answer of these views, errors raised before
`post` (a missing key, another method) included, is an OTLP one in the request's encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.views import APIView

from ingestion import body
from ingestion.door import door_ingest, door_project
from ingestion.errors import IngestionErrorCode
from ingestion.openapi import RequiredBodySchema
from ingestion.otlp import decoding, mapping, openapi
from ingestion.otlp.responses import export_response, status_response
from orgs.authentication import AuthErrorCode, IngestKeyAuthentication
from productgraph.api.errors import CodedAPIException

MEDIA_TYPES = (decoding.PROTOBUF, decoding.JSON)
MEDIA_HINT = "Send Content-Type: application/x-protobuf or application/json (OTLP/HTTP)."


class _OtlpExportView(APIView):
    """One signal's export endpoint; subclasses name the signal and its functions."""

    signal: str  # "logs" or "traces", as the OTLP paths and answers name it
    noun: str  # what one record is called in messages
    decoders: dict[str, Callable[[bytes], Sequence[Any]]]
    map_records: Callable[[Sequence[Any]], mapping.Mapped]

    authentication_classes = [IngestKeyAuthentication]
    permission_classes: list = []  # a missing key is answered in `initial`, in OTLP form
    parser_classes: list = []  # the body is read, size-checked and decoded here
    http_method_names = ["post", "options"]
    schema = RequiredBodySchema()

    def initial(self, request, *args, **kwargs):
        """405 before authentication, as /v1/events; then 401 without a key (OTLP has no
        key in the body, so there is nothing to read the body for)."""
        if request.method.lower() not in self.http_method_names:
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)
        if request.auth is None and request.method.lower() == "post":
            raise CodedAPIException(
                AuthErrorCode.MISSING_API_KEY,
                "Send the project's API key as X-PG-API-Key, Authorization: Bearer or "
                "?api_key= (e.g. OTEL_EXPORTER_OTLP_HEADERS=x-pg-api-key=pk_...).",
                status.HTTP_401_UNAUTHORIZED,
            )

    def options(self, request, *args, **kwargs):
        """An OPTIONS that is not a CORS preflight: 204 and the methods."""
        return HttpResponse(status=status.HTTP_204_NO_CONTENT, headers={"Allow": "POST, OPTIONS"})

    def post(self, request):
        received_at = timezone.now()
        http_request = request._request
        project = door_project(http_request, request.auth)
        raw, media_type = body.read_request_body(http_request, MEDIA_TYPES, MEDIA_HINT)
        try:
            records = self.decoders[media_type](raw)
        except decoding.MalformedExport as exc:
            raise body.BodyError(400, IngestionErrorCode.INVALID_BODY, str(exc)) from exc
        if len(records) > body.MAX_EVENTS:
            raise body.BodyError(
                400,
                IngestionErrorCode.BATCH_TOO_LARGE,
                f"An export holds at most {body.MAX_EVENTS} {self.noun}s; this one has "
                f"{len(records)}. Nothing was stored.",
            )
        mapped = self.map_records(records)
        result = door_ingest(
            http_request,
            door=f"otlp_{self.signal}",
            principal=request.auth,
            project=project,
            events=mapped.events,
            received_at=received_at,
            body_bytes=len(raw),
            refused=len(mapped.rejections),
        )
        count, message = mapping.rejection_summary(
            self.noun, mapped, result.errors, result.rejected
        )
        return export_response(self.signal, media_type, count, message)

    def handle_exception(self, exc):
        """Every error as a `google.rpc.Status`: ours (`BodyError`: 400, 413, 415, 429) and
        DRF's and the kernel's (401, 405, 503 for a database outage, ...), whose envelope
        `super()` renders first (headers such as Retry-After kept)."""
        encoding = body.media_type_of(self.request.META.get("CONTENT_TYPE", ""))
        if isinstance(exc, body.BodyError):
            return status_response(encoding, exc.status, exc.code, exc.message, exc.headers)
        response = super().handle_exception(exc)  # re-raises what is not an API error
        error = response.data["error"]
        headers = {
            name: response[name]
            for name in ("Retry-After", "WWW-Authenticate", "Allow")
            if response.has_header(name)
        }
        return status_response(
            encoding, response.status_code, error["code"], error["message"], headers
        )


class LogsView(_OtlpExportView):
    """POST /v1/logs: an `ExportLogsServiceRequest`; one event per mapped log record."""

    @extend_schema(
        operation_id="otlp_export_logs",
        request=openapi.request_body("ExportLogsServiceRequest"),
        responses=openapi.responses("ExportLogsServiceResponse", "rejectedLogRecords"),
    )
    def post(self, request):
        return super().post(request)

    signal = "logs"
    noun = "log record"
    decoders = {
        decoding.PROTOBUF: decoding.logs_from_protobuf,
        decoding.JSON: decoding.logs_from_json,
    }
    map_records = staticmethod(mapping.logs_map)


class TracesView(_OtlpExportView):
    """POST /v1/traces: an `ExportTraceServiceRequest`; one event per mapped span."""

    @extend_schema(
        operation_id="otlp_export_traces",
        request=openapi.request_body("ExportTraceServiceRequest"),
        responses=openapi.responses("ExportTraceServiceResponse", "rejectedSpans"),
    )
    def post(self, request):
        return super().post(request)

    signal = "traces"
    noun = "span"
    decoders = {
        decoding.PROTOBUF: decoding.spans_from_protobuf,
        decoding.JSON: decoding.spans_from_json,
    }
    map_records = staticmethod(mapping.spans_map)
