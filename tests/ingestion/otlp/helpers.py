"""Shared helpers of the OTLP tests: exports built as bench.doors builds them, sent
in either encoding, and the door's answers read back."""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from bench.doors import any_value, key_values
from tests.ingestion.helpers import RECENT

PROTOBUF = "application/x-protobuf"
NS = int(RECENT.timestamp()) * 1_000_000_000
TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")
PARENT_ID = bytes.fromhex("eee19b7ec3c1b173")
RESOURCE = {
    "service.name": "shop-web",
    "session.id": "sess_otel",
    "telemetry.sdk.name": "opentelemetry",
    "service.instance.id": "0f1e",
    "process.pid": 4242,
}


def log_record(attributes: dict[str, Any] | None = None, **fields: Any) -> LogRecord:
    fields.setdefault("time_unix_nano", NS)
    fields.setdefault("observed_time_unix_nano", NS + 5)
    body = fields.pop("body", None)
    record = LogRecord(attributes=key_values(attributes or {}), **fields)
    if body is not None:
        record.body.CopyFrom(any_value(body))
    return record


def span(attributes: dict[str, Any] | None = None, **fields: Any) -> Span:
    fields.setdefault("trace_id", TRACE_ID)
    fields.setdefault("span_id", SPAN_ID)
    fields.setdefault("name", "checkout")
    fields.setdefault("start_time_unix_nano", NS)
    fields.setdefault("end_time_unix_nano", NS + 12_500_000)
    return Span(attributes=key_values(attributes or {}), **fields)


def logs_export(*records: LogRecord, resource: dict[str, Any] | None = None):
    request = ExportLogsServiceRequest()
    block = request.resource_logs.add()
    block.resource.attributes.extend(key_values(RESOURCE if resource is None else resource))
    block.scope_logs.add().log_records.extend(records)
    return request


def traces_export(*spans: Span, resource: dict[str, Any] | None = None):
    request = ExportTraceServiceRequest()
    block = request.resource_spans.add()
    block.resource.attributes.extend(key_values(RESOURCE if resource is None else resource))
    block.scope_spans.add().spans.extend(spans)
    return request


def otlp_json(message) -> bytes:
    """OTLP/JSON as the spec (and the JSON exporter) writes it: ids in hex, not base64."""
    document = json_format.MessageToDict(message)

    def hexify(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId"):
                    node[key] = base64.b64decode(value).hex()
                else:
                    hexify(value)
        elif isinstance(node, list):
            for item in node:
                hexify(item)

    hexify(document)
    return json.dumps(document).encode()


def send(client, path: str, message, *, key: str | None, encoding: str = PROTOBUF, **extra):
    data = message if isinstance(message, bytes) else None
    if data is None:
        data = message.SerializeToString() if encoding == PROTOBUF else otlp_json(message)
    if key is not None:
        extra.setdefault("HTTP_X_PG_API_KEY", key)
    extra.setdefault("CONTENT_TYPE", encoding)  # the test client drops it for an empty body
    return client.post(path, data=data, content_type=encoding, **extra)


def answer(response, path: str = "/v1/logs"):
    """The 200 body decoded from the response's own encoding."""
    assert response.status_code == 200, response.content
    message = ExportLogsServiceResponse() if path == "/v1/logs" else ExportTraceServiceResponse()
    if response["Content-Type"] == PROTOBUF:
        message.ParseFromString(response.content)
    else:
        json_format.Parse(response.content, message)
    return message


def status_of(response) -> tuple[int, str, str]:
    """(HTTP status, our error code, message) of an error answer, from its google.rpc.Status."""
    message = status_pb2.Status()
    if response["Content-Type"] == PROTOBUF:
        message.ParseFromString(response.content)
    else:
        json_format.Parse(response.content, message)
    info = error_details_pb2.ErrorInfo()
    assert message.details[0].Unpack(info)
    assert info.domain == "productgraph"
    return response.status_code, info.reason, message.message


def page_view(**extra: Any) -> dict[str, Any]:
    return {"event.type": "page.view", "page.path": "/cart", **extra}
