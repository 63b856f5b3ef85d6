"""Each ingestion door's requests and answers for the load generator (no Django): the same
events as `/v1/events` batches, OTLP/protobuf log exports and Segment batches. Id tokens stay
strings of the same length, so a protobuf's length prefixes stay right when they are swapped."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as service
from opentelemetry.proto.common.v1 import common_pb2 as common
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from bench.events import batch_body


@dataclass(frozen=True)
class Door:
    """How one door is sent a batch and how its answer reads."""

    name: str
    path: str
    content_type: str
    success: int  # the status of an answered batch
    encode: Callable[[list[dict[str, Any]]], bytes]
    # (answer body, events sent) -> {"accepted", "duplicates", "rejected", "errors"}
    read: Callable[[bytes, int], dict[str, Any]]


_SCALARS = ((bool, "bool_value"), (int, "int_value"), (float, "double_value"),
            (bytes, "bytes_value"))  # fmt: skip


def any_value(value: Any) -> common.AnyValue:
    """A Python value as an OTLP `AnyValue` (what an SDK makes of an attribute's value)."""
    if isinstance(value, dict):
        return common.AnyValue(kvlist_value=common.KeyValueList(values=key_values(value)))
    if isinstance(value, list):
        return common.AnyValue(array_value=common.ArrayValue(values=list(map(any_value, value))))
    field = next((name for kind, name in _SCALARS if isinstance(value, kind)), None)
    return common.AnyValue(**{field: value}) if field else common.AnyValue(string_value=str(value))


def key_values(attributes: dict[str, Any]) -> list[common.KeyValue]:
    return [common.KeyValue(key=key, value=any_value(value)) for key, value in attributes.items()]


def otlp_logs_body(events: list[dict[str, Any]]) -> bytes:
    """One resource, one scope, a log record per event (the SDK's log exporter's shape)."""
    records = [
        LogRecord(
            time_unix_nano=int(datetime.fromisoformat(event["event.timestamp"]).timestamp() * 1e9),
            attributes=key_values({k: v for k, v in event.items() if k != "event.timestamp"}),
        )
        for event in events
    ]
    scope = ScopeLogs(scope=common.InstrumentationScope(name="bench"), log_records=records)
    resource = Resource(attributes=key_values({"service.name": "shop-web"}))
    logs = [ResourceLogs(resource=resource, scope_logs=[scope])]
    return service.ExportLogsServiceRequest(resource_logs=logs).SerializeToString()


def _otlp_answer(body: bytes, sent: int) -> dict[str, Any]:
    partial = service.ExportLogsServiceResponse.FromString(body).partial_success
    rejected = partial.rejected_log_records
    errors = [partial.error_message] if partial.error_message else []
    return {"accepted": sent - rejected, "duplicates": 0, "rejected": rejected, "errors": errors}


_PAGE_KEYS = {"page.path": "path", "page.url": "url", "page.title": "title",
              "page.referrer": "referrer"}  # fmt: skip
_MESSAGE_KEYS = frozenset(  # what a Segment message carries outside `properties`
    {"event_id", "session.id", "event.type", "event.timestamp", "user.id", "user.anonymous_id",
     "ui.viewport", "project_id", *_PAGE_KEYS}
)  # fmt: skip
_LIBRARY = {"name": "analytics.js", "version": "next-1.70.0"}


def segment_message(event: dict[str, Any]) -> dict[str, Any]:
    """The call analytics.js would make for one event: `page` for a page view, else `track`
    named after its type; the session id as `context.sessionId`."""
    page = {short: event[key] for key, short in _PAGE_KEYS.items() if key in event}
    context: dict[str, Any] = {"sessionId": event["session.id"], "page": page, "library": _LIBRARY}
    if "ui.viewport" in event:
        width, _, height = event["ui.viewport"].partition("x")
        context["screen"] = {"width": int(width), "height": int(height)}
    properties = {key: value for key, value in event.items() if key not in _MESSAGE_KEYS}
    message: dict[str, Any] = {
        "messageId": event["event_id"],
        "anonymousId": event.get("user.anonymous_id"),
        "timestamp": event["event.timestamp"],
        "context": context,
        "properties": properties,
    }
    if "user.id" in event:
        message["userId"] = event["user.id"]
    if event["event.type"] == "page.view":
        message.update(type="page", name=page.get("title"))
        properties.update(page)
    else:
        message.update(type="track", event=event["event.type"])
    return message


def segment_body(events: list[dict[str, Any]]) -> bytes:
    batch = [segment_message(event) for event in events]
    sent_at = max(event["event.timestamp"] for event in events)
    return json.dumps({"batch": batch, "sentAt": sent_at}, separators=(",", ":")).encode()


def _our_answer(body: bytes, sent: int) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(body)
    return answer


DOORS: dict[str, Door] = {
    "events": Door("events", "/v1/events", "application/json", 202, batch_body, _our_answer),
    "otlp_logs": Door(
        "otlp_logs", "/v1/logs", "application/x-protobuf", 200, otlp_logs_body, _otlp_answer
    ),
    "segment": Door("segment", "/v1/batch", "application/json", 200, segment_body, _our_answer),
}
