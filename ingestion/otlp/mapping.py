"""What an OTLP log record or span becomes: one event in our wire format, or a rejection.

Pure functions over `ingestion.otlp.decoding`'s records (ADR 0007, docs/reference/otlp.md):

- the event's keys are the record's attributes over its scope's over its resource's (the
  record wins), less the resource and scope attributes that describe the machine rather than
  the product (`INFRASTRUCTURE`); catalog keys become columns, the others `attributes`;
- the record's time is the event time (a log's `timeUnixNano`, else its
  `observedTimeUnixNano`; a span's `startTimeUnixNano`), to the microsecond;
- a span's `duration_ms` (unless an attribute gives it) is `end - start` in fractional
  milliseconds, which validation rounds half-to-even; `event.name` defaults to a span's name
  or a log's `eventName`; a log's body is kept as `log.body`; the trace and span ids as hex in
  `trace.id`, `span.id` (and `span.parent_id`);
- `event_id`, unless an attribute gives it, is derived from the record so that a resent
  export (in either encoding) is a duplicate: a span's from its trace and span ids, a log
  record's from a digest of everything mapped from it plus its two times;
- a record without `session.id` or `event.type` (on itself, its scope or its resource) is
  rejected: ProductGraph does not invent sessions or guess types.

Validation (`ingestion.validation`, through `door_ingest`) then applies the same rules as
`/v1/events`; its errors come back by event index, which `Mapped.positions` turns back into
record positions for the answer's `error_message`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import msgspec

from ingestion.otlp.decoding import LogData, SpanData

# Resource and scope attributes in these namespaces are not kept: the SDK's resource detectors
# fill them (`process.command_args` alone can be kilobytes) and they would eat the 64 extra
# keys and 16 KB an event may carry. `service.name`, `service.version`,
# `deployment.environment` and any other resource attribute are kept.
INFRASTRUCTURE = (
    "telemetry.",
    "service.instance.id",
    "process.",
    "host.",
    "os.",
    "container.",
    "k8s.",
    "cloud.",
    "faas.",
)
REQUIRED = ("session.id", "event.type")
# How many problems the answer's `error_message` names; the count covers every one.
MESSAGE_PROBLEMS = 5

_canonical = msgspec.json.Encoder(order="sorted").encode
_Record = TypeVar("_Record", LogData, SpanData)


class Mapped(NamedTuple):
    """An export mapped: the events, each one's record position, and the records refused
    before validation as (position, why)."""

    events: list[dict[str, Any]]
    positions: list[int]
    rejections: list[tuple[int, str]]


def rfc3339(nanoseconds: int) -> str:
    """`1767225600123456789` -> `2026-01-01T00:00:00.123456Z` (the column keeps microseconds)."""
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction // 1000:06d}Z"


def kept(inherited: dict[str, Any]) -> dict[str, Any]:
    """A record's inherited (resource and scope) attributes less the `INFRASTRUCTURE` ones."""
    return {key: value for key, value in inherited.items() if not key.startswith(INFRASTRUCTURE)}


def _valid_id(value: bytes, size: int) -> bool:
    return len(value) == size and value != bytes(size)


def _missing(event: dict[str, Any], noun: str) -> str | None:
    absent = [key for key in REQUIRED if event.get(key) is None]
    if not absent:
        return None
    return (
        f"no {' or '.join(absent)} attribute (set it on the {noun} or its resource); "
        "only records carrying ProductGraph's keys become events"
    )


def _ids(event: dict[str, Any], trace_id: bytes, span_id: bytes) -> None:
    if _valid_id(trace_id, 16):
        event.setdefault("trace.id", trace_id.hex())
    if _valid_id(span_id, 8):
        event.setdefault("span.id", span_id.hex())


def log_event(log: LogData, inherited: dict[str, Any]) -> dict[str, Any] | str:
    """The event of one log record (`inherited`: its `kept` attributes), or why there is none."""
    event = {**inherited, **log.attributes}
    if problem := _missing(event, "log record"):
        return problem
    moment = log.time_ns or log.observed_ns
    if moment:
        event["event.timestamp"] = rfc3339(moment)
    elif "event.timestamp" not in event:
        return "no timeUnixNano, observedTimeUnixNano or event.timestamp attribute"
    _ids(event, log.trace_id, log.span_id)
    if log.event_name:
        event.setdefault("event.name", log.event_name)
    if log.body is not None and log.body != "":
        event.setdefault("log.body", log.body)
    if "event_id" not in event:
        # Every mapped value and both times: a resend (either encoding) digests the same;
        # two records differing in anything we store, or in time, do not.
        digest = hashlib.sha256(
            _canonical([log.time_ns, log.observed_ns, log.severity_text, event])
        ).hexdigest()
        event["event_id"] = f"otel-log-{digest[:32]}"
    return event


def span_event(span: SpanData, inherited: dict[str, Any]) -> dict[str, Any] | str:
    """The event of one span (`inherited`: its `kept` attributes), or why there is none."""
    event = {**inherited, **span.attributes}
    if problem := _missing(event, "span"):
        return problem
    if not span.start_ns:
        return "startTimeUnixNano is 0"
    if span.end_ns and span.end_ns < span.start_ns:
        return "endTimeUnixNano is before startTimeUnixNano"
    event["event.timestamp"] = rfc3339(span.start_ns)
    if span.end_ns:
        event.setdefault("duration_ms", (span.end_ns - span.start_ns) / 1_000_000)
    if span.name:
        event.setdefault("event.name", span.name)
    _ids(event, span.trace_id, span.span_id)
    if _valid_id(span.parent_span_id, 8):
        event.setdefault("span.parent_id", span.parent_span_id.hex())
    if "event_id" not in event:
        if _valid_id(span.trace_id, 16) and _valid_id(span.span_id, 8):
            event["event_id"] = f"otel-span-{span.trace_id.hex()}-{span.span_id.hex()}"
        else:  # an invalid span context: the span's content is its identity
            digest = hashlib.sha256(_canonical([span.start_ns, span.end_ns, event])).hexdigest()
            event["event_id"] = f"otel-span-{digest[:32]}"
    return event


def _map(
    records: Sequence[_Record],
    one: Callable[[_Record, dict[str, Any]], dict[str, Any] | str],
) -> Mapped:
    mapped = Mapped([], [], [])
    # Every record of a scope shares one inherited dict: filter it once per scope.
    filtered: dict[int, dict[str, Any]] = {}
    for position, record in enumerate(records):
        inherited = filtered.get(id(record.inherited))
        if inherited is None:
            inherited = filtered[id(record.inherited)] = kept(record.inherited)
        event = one(record, inherited)
        if isinstance(event, str):
            mapped.rejections.append((position, event))
        else:
            mapped.events.append(event)
            mapped.positions.append(position)
    return mapped


def logs_map(records: Sequence[LogData]) -> Mapped:
    """Map an export's log records, in order."""
    return _map(records, log_event)


def spans_map(records: Sequence[SpanData]) -> Mapped:
    """Map an export's spans, in order."""
    return _map(records, span_event)


def rejection_summary(
    noun: str, mapped: Mapped, errors: Sequence[dict[str, Any]], rejected: int
) -> tuple[int, str]:
    """How many records were refused and a message naming the first problems, in record
    order: the mapping's rejections plus `rejected` events whose validation `errors`
    (`{"index", "field", "message"}` by event index) `door_ingest` returned."""
    problems = [(position, f"{noun} {position}: {why}") for position, why in mapped.rejections]
    for error in errors:
        position = mapped.positions[error["index"]]
        field = f"{error['field']} " if error["field"] else ""
        problems.append((position, f"{noun} {position}: {field}{error['message']}"))
    problems.sort(key=lambda problem: problem[0])
    count = len(mapped.rejections) + rejected
    if not problems:
        return count, ""
    message = "; ".join(text for _, text in problems[:MESSAGE_PROBLEMS])
    if len(problems) > MESSAGE_PROBLEMS:
        message += f"; and {len(problems) - MESSAGE_PROBLEMS} more problems"
    return count, message
