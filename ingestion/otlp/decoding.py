"""Read an OTLP/HTTP export body, protobuf or JSON, into encoding-neutral records.

Both encodings give the same `LogData` / `SpanData` for the same export, value for value, so
the mapping (and a log record's derived `event_id`) cannot tell them apart: an exporter that
switches encodings and resends an export gets duplicates, not second rows.

Protobuf is decoded by `opentelemetry-proto`'s generated classes. JSON is parsed once with
msgspec and walked here, following the OTLP/JSON rules (docs/reference/otlp.md): keys in
lowerCamelCase or snake_case, trace and span ids as hex, int64 as a number or a string, bytes
as base64, enums as integers, unknown keys ignored. `google.protobuf.json_format` is not
used: on a 1,000-record log export it took 121 ms where this walk takes 15 ms (ADR 0007).

AnyValues are flattened to plain JSON values: string, bool, int, float; an array is a list,
a kvlist an object, bytes a base64 string, a non-finite double the strings `NaN`,
`Infinity`, `-Infinity` (proto3 JSON's spelling), an empty AnyValue absent.

A body that is not an export of the door's signal raises `MalformedExport` (a 400, nothing
stored): protobuf that does not decode, JSON that is not an export object, a value of the
wrong type anywhere. One bad record never passes as a partial success, because the protobuf
decoder cannot skip one either.

One module on purpose, though over 400 lines: the protobuf and the JSON readers must give
the same records value for value, and change together.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

UINT64_MAX = 2**64 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# An AnyValue nested deeper than this is refused (protobuf's own recursion limit, 100
# messages, allows about 33 AnyValue levels; JSON has no limit of its own here).
MAX_VALUE_DEPTH = 32


_DECIMAL = re.compile(r"-?[0-9]+")


class MalformedExport(Exception):
    """The body is not an OTLP export of this signal in its content type's encoding."""


class LogData(NamedTuple):
    """One log record: its own attributes, those it inherits, and the fields we map.

    `inherited` is its resource's attributes under its scope's (the scope wins), one dict
    shared by every record of the scope.
    """

    inherited: dict[str, Any]
    attributes: dict[str, Any]
    time_ns: int
    observed_ns: int
    trace_id: bytes
    span_id: bytes
    event_name: str
    severity_text: str
    body: Any


class SpanData(NamedTuple):
    """One span: its own attributes, those it inherits (as `LogData`), the fields we map."""

    inherited: dict[str, Any]
    attributes: dict[str, Any]
    start_ns: int
    end_ns: int
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    name: str


# --- protobuf ------------------------------------------------------------------------------


def _pb_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        return _double(value.double_value)
    if kind == "array_value":
        return [_pb_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _pb_attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None  # unset, or string_value_strindex (a profiles-only dictionary reference)


def _pb_attributes(values: Any) -> dict[str, Any]:
    attributes = {}
    for pair in values:
        value = _pb_value(pair.value)
        if value is not None:
            attributes[pair.key] = value
    return attributes


def _double(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"


def _pb_parse(message_class: Any, raw: bytes) -> Any:
    try:
        return message_class.FromString(raw)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise MalformedExport(
            f"The body is not a protobuf {message_class.DESCRIPTOR.name}: {exc}"
        ) from exc


def logs_from_protobuf(raw: bytes) -> list[LogData]:
    """The log records of a protobuf `ExportLogsServiceRequest`, in order."""
    request = _pb_parse(ExportLogsServiceRequest, raw)
    records = []
    for resource_logs in request.resource_logs:
        resource = _pb_attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            inherited = {**resource, **_pb_attributes(scope_logs.scope.attributes)}
            for record in scope_logs.log_records:
                records.append(
                    LogData(
                        inherited,
                        _pb_attributes(record.attributes),
                        record.time_unix_nano,
                        record.observed_time_unix_nano,
                        record.trace_id,
                        record.span_id,
                        record.event_name,
                        record.severity_text,
                        _pb_value(record.body) if record.HasField("body") else None,
                    )
                )
    return records


def spans_from_protobuf(raw: bytes) -> list[SpanData]:
    """The spans of a protobuf `ExportTraceServiceRequest`, in order."""
    request = _pb_parse(ExportTraceServiceRequest, raw)
    records = []
    for resource_spans in request.resource_spans:
        resource = _pb_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            inherited = {**resource, **_pb_attributes(scope_spans.scope.attributes)}
            for span in scope_spans.spans:
                records.append(
                    SpanData(
                        inherited,
                        _pb_attributes(span.attributes),
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        span.trace_id,
                        span.span_id,
                        span.parent_span_id,
                        span.name,
                    )
                )
    return records


# --- JSON ----------------------------------------------------------------------------------


def _get(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """A field by its lowerCamelCase name, else its snake_case name (both are OTLP/JSON)."""
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedExport(f"{where} must be an object.")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedExport(f"{where} must be a list.")
    return value


def _string(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedExport(f"{where} must be a string.")
    return value


def _integer(value: Any, where: str, low: int, high: int) -> int:
    """An int64/uint64 field: a JSON number or a decimal string (proto3 JSON)."""
    if value is None:
        return 0
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value):  # int() would also take " 12 " and "1_000"
            raise MalformedExport(f"{where} must be an integer.")
        try:
            value = int(value, 10)
        except ValueError:  # over Python's 4,300 digits
            raise MalformedExport(f"{where} must be an integer.") from None
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MalformedExport(f"{where} must be an integer from {low} to {high}.")
    return value


def _time(value: Any, where: str) -> int:
    return _integer(value, where, 0, UINT64_MAX)


def _json_double(value: Any, where: str) -> float | str:
    if isinstance(value, str):
        try:
            value = float(value)  # "NaN", "Infinity", "-Infinity" or a number as a string
        except ValueError:
            raise MalformedExport(f"{where} must be a number.") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedExport(f"{where} must be a number.")
    try:
        return _double(float(value))
    except OverflowError:  # an integer beyond a double, as "1e400" is: an infinity
        return _double(math.inf if value > 0 else -math.inf)


def _json_bytes(value: Any, where: str) -> str:
    """Base64 (standard or URL-safe, as proto3 JSON allows), re-encoded as standard base64
    so both encodings store the same string."""
    text = _string(value, where).replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedExport(f"{where} must be base64.") from None
    return base64.b64encode(decoded).decode("ascii")


def _json_id(value: Any, where: str) -> bytes:
    """A trace or span id: hex in OTLP/JSON (not proto3 JSON's base64)."""
    try:
        return bytes.fromhex(_string(value, where))
    except ValueError:
        raise MalformedExport(f"{where} must be hex digits.") from None


def _json_value(value: Any, where: str, depth: int = 0) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedExport(f"{where} must be an AnyValue object.")
    for key, inner in value.items():
        kind = _ANY_KINDS.get(key)
        if kind is not None:
            if inner is None:
                return None
            if depth >= MAX_VALUE_DEPTH:
                raise MalformedExport(f"{where} is nested over {MAX_VALUE_DEPTH} levels.")
            return kind(inner, where, depth + 1)
    return None  # empty, or only keys this receiver does not know


def _json_array(value: Any, where: str, depth: int) -> list[Any]:
    values = _list(_object(value, where).get("values"), where)
    return [_json_value(item, where, depth) for item in values]


def _json_kvlist(value: Any, where: str, depth: int) -> dict[str, Any]:
    return _json_attributes(_object(value, where).get("values"), where, depth)


def _json_string(value: Any, where: str, depth: int) -> str:
    return _string(value, where)


def _json_bool(value: Any, where: str, depth: int) -> bool:
    if not isinstance(value, bool):
        raise MalformedExport(f"{where} must be true or false.")
    return value


_ANY_KINDS: dict[str, Callable[[Any, str, int], Any]] = {
    "stringValue": _json_string,
    "string_value": _json_string,
    "intValue": lambda value, where, depth: _integer(value, where, INT64_MIN, INT64_MAX),
    "int_value": lambda value, where, depth: _integer(value, where, INT64_MIN, INT64_MAX),
    "boolValue": _json_bool,
    "bool_value": _json_bool,
    "doubleValue": lambda value, where, depth: _json_double(value, where),
    "double_value": lambda value, where, depth: _json_double(value, where),
    "arrayValue": _json_array,
    "array_value": _json_array,
    "kvlistValue": _json_kvlist,
    "kvlist_value": _json_kvlist,
    "bytesValue": lambda value, where, depth: _json_bytes(value, where),
    "bytes_value": lambda value, where, depth: _json_bytes(value, where),
}


def _json_attributes(values: Any, where: str, depth: int = 0) -> dict[str, Any]:
    attributes = {}
    for pair in _list(values, where):
        pair = _object(pair, where)
        key = _string(pair.get("key"), where)
        value = _json_value(pair.get("value"), f"{where} {key!r}", depth)
        if value is not None:
            attributes[key] = value
    return attributes


def _json_export(raw: bytes, signal: tuple[str, str], other: tuple[str, str, str]) -> list[Any]:
    """The top-level list of an OTLP/JSON export: `signal` names it (camelCase, snake_case);
    a body holding `other`'s list instead is refused with the path it belongs to."""
    try:
        body = msgspec.json.decode(raw)
    except msgspec.ValidationError as exc:  # well-formed, but a number out of range
        raise MalformedExport(f"The body holds a number out of range: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise MalformedExport(f"The body is not valid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise MalformedExport(f"The body is not valid UTF-8: {exc.reason}.") from exc
    except RecursionError as exc:
        raise MalformedExport("The body is nested too deeply.") from exc
    if not isinstance(body, dict):
        raise MalformedExport("The body must be a JSON object (an OTLP export request).")
    listed = _get(body, *signal)
    if listed is None and _get(body, other[0], other[1]) is not None:
        raise MalformedExport(f"This is a {other[0]} export: send it to {other[2]}.")
    return _list(listed, signal[0])


def logs_from_json(raw: bytes) -> list[LogData]:
    """The log records of an OTLP/JSON `ExportLogsServiceRequest`, in order."""
    records = []
    blocks = _json_export(
        raw, ("resourceLogs", "resource_logs"), ("resourceSpans", "resource_spans", "/v1/traces")
    )
    for r, resource_logs in enumerate(blocks):
        where = f"resourceLogs[{r}]"
        resource_logs = _object(resource_logs, where)
        resource = _object(resource_logs.get("resource"), f"{where}.resource")
        inherited_resource = _json_attributes(resource.get("attributes"), f"{where}.resource")
        scopes = _list(_get(resource_logs, "scopeLogs", "scope_logs"), f"{where}.scopeLogs")
        for s, scope_logs in enumerate(scopes):
            at = f"{where}.scopeLogs[{s}]"
            scope_logs = _object(scope_logs, at)
            scope = _object(scope_logs.get("scope"), f"{at}.scope")
            inherited = {
                **inherited_resource,
                **_json_attributes(scope.get("attributes"), f"{at}.scope"),
            }
            listed = _list(_get(scope_logs, "logRecords", "log_records"), f"{at}.logRecords")
            for n, record in enumerate(listed):
                here = f"{at}.logRecords[{n}]"
                record = _object(record, here)
                records.append(
                    LogData(
                        inherited,
                        _json_attributes(record.get("attributes"), f"{here}.attributes"),
                        _time(
                            _get(record, "timeUnixNano", "time_unix_nano"), f"{here}.timeUnixNano"
                        ),
                        _time(
                            _get(record, "observedTimeUnixNano", "observed_time_unix_nano"),
                            f"{here}.observedTimeUnixNano",
                        ),
                        _json_id(_get(record, "traceId", "trace_id"), f"{here}.traceId"),
                        _json_id(_get(record, "spanId", "span_id"), f"{here}.spanId"),
                        _string(_get(record, "eventName", "event_name"), f"{here}.eventName"),
                        _string(
                            _get(record, "severityText", "severity_text"), f"{here}.severityText"
                        ),
                        _json_value(record.get("body"), f"{here}.body"),
                    )
                )
    return records


def spans_from_json(raw: bytes) -> list[SpanData]:
    """The spans of an OTLP/JSON `ExportTraceServiceRequest`, in order."""
    records = []
    blocks = _json_export(
        raw, ("resourceSpans", "resource_spans"), ("resourceLogs", "resource_logs", "/v1/logs")
    )
    for r, resource_spans in enumerate(blocks):
        where = f"resourceSpans[{r}]"
        resource_spans = _object(resource_spans, where)
        resource = _object(resource_spans.get("resource"), f"{where}.resource")
        inherited_resource = _json_attributes(resource.get("attributes"), f"{where}.resource")
        scopes = _list(_get(resource_spans, "scopeSpans", "scope_spans"), f"{where}.scopeSpans")
        for s, scope_spans in enumerate(scopes):
            at = f"{where}.scopeSpans[{s}]"
            scope_spans = _object(scope_spans, at)
            scope = _object(scope_spans.get("scope"), f"{at}.scope")
            inherited = {
                **inherited_resource,
                **_json_attributes(scope.get("attributes"), f"{at}.scope"),
            }
            for n, span in enumerate(_list(scope_spans.get("spans"), f"{at}.spans")):
                here = f"{at}.spans[{n}]"
                span = _object(span, here)
                records.append(
                    SpanData(
                        inherited,
                        _json_attributes(span.get("attributes"), f"{here}.attributes"),
                        _time(
                            _get(span, "startTimeUnixNano", "start_time_unix_nano"),
                            f"{here}.startTimeUnixNano",
                        ),
                        _time(
                            _get(span, "endTimeUnixNano", "end_time_unix_nano"),
                            f"{here}.endTimeUnixNano",
                        ),
                        _json_id(_get(span, "traceId", "trace_id"), f"{here}.traceId"),
                        _json_id(_get(span, "spanId", "span_id"), f"{here}.spanId"),
                        _json_id(
                            _get(span, "parentSpanId", "parent_span_id"), f"{here}.parentSpanId"
                        ),
                        _string(span.get("name"), f"{here}.name"),
                    )
                )
    return records
