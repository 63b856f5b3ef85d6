"""What a log record or a span becomes (ingestion/otlp/mapping.py), without a database."""

from __future__ import annotations

import pytest

from ingestion.otlp import decoding, mapping
from tests.ingestion.helpers import RECENT
from tests.ingestion.otlp.helpers import (
    NS,
    PARENT_ID,
    SPAN_ID,
    TRACE_ID,
    log_record,
    logs_export,
    page_view,
    span,
    traces_export,
)


def test_rfc3339_keeps_microseconds():
    assert mapping.rfc3339(1767225600123456789) == "2026-01-01T00:00:00.123456Z"
    assert mapping.rfc3339(0) == "1970-01-01T00:00:00.000000Z"


def test_a_log_record_maps_its_time_ids_body_and_inherited_keys():
    export = logs_export(
        log_record(
            page_view(**{"service.name": "override"}),
            trace_id=TRACE_ID,
            span_id=SPAN_ID,
            body="added to cart",
            event_name="cart.add",
        )
    )
    mapped = mapping.logs_map(decoding.logs_from_protobuf(export.SerializeToString()))
    [event] = mapped.events
    assert event.pop("event_id").startswith("otel-log-")
    assert event == {
        "service.name": "override",  # the record wins over its resource
        "session.id": "sess_otel",
        "event.type": "page.view",
        "page.path": "/cart",
        "event.timestamp": RECENT.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        "trace.id": TRACE_ID.hex(),
        "span.id": SPAN_ID.hex(),
        "event.name": "cart.add",
        "log.body": "added to cart",
    }


def test_a_span_maps_its_start_fractional_duration_name_and_ids():
    export = traces_export(span({"event.type": "ui.click"}, parent_span_id=PARENT_ID))
    [event] = mapping.spans_map(decoding.spans_from_protobuf(export.SerializeToString())).events
    assert event["event_id"] == f"otel-span-{TRACE_ID.hex()}-{SPAN_ID.hex()}"
    assert event["duration_ms"] == 12.5
    assert event["event.name"] == "checkout"
    assert event["span.parent_id"] == PARENT_ID.hex()
    assert "process.pid" not in event and "telemetry.sdk.name" not in event


def test_a_log_time_falls_back_to_observed_time():
    export = logs_export(log_record(page_view(), time_unix_nano=0, observed_time_unix_nano=NS))
    [event] = mapping.logs_map(decoding.logs_from_protobuf(export.SerializeToString())).events
    assert event["event.timestamp"] == mapping.rfc3339(NS)


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (span({"page.path": "/"}), "no event.type attribute"),
        (span(page_view(), start_time_unix_nano=0), "startTimeUnixNano is 0"),
        (span(page_view(), end_time_unix_nano=NS - 1), "endTimeUnixNano is before"),
    ],
)
def test_spans_the_mapping_refuses_say_why(record, problem):
    mapped = mapping.spans_map(
        decoding.spans_from_protobuf(traces_export(record).SerializeToString())
    )
    assert mapped.events == []
    [(position, why)] = mapped.rejections
    assert position == 0 and problem in why


def test_a_record_without_session_is_refused_not_given_one():
    export = logs_export(log_record(page_view()), resource={"service.name": "x"})
    mapped = mapping.logs_map(decoding.logs_from_protobuf(export.SerializeToString()))
    assert mapped.rejections == [
        (
            0,
            "no session.id attribute (set it on the log record or its resource); "
            "only records carrying ProductGraph's keys become events",
        )
    ]
