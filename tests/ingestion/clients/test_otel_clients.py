"""The OpenTelemetry Python SDK's own OTLP/HTTP exporters, unmodified from PyPI, against the
production server; every event read back through GraphQL and compared field for field.

The SDK records into memory; the real exporter's `export()` then sends the batch, so each
test sees the exporter's verdict (SUCCESS, or FAILURE after the retries it would make).
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.exporter.otlp.common.http import Compression as JsonCompression
from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter as JsonLogExporter
from opentelemetry.exporter.otlp.json.http.trace_exporter import (
    OTLPSpanExporter as JsonSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import make_tenant
from tests.ingestion.clients.readback import EVENT_FIELDS, by_event_id, events_read
from tests.ingestion.helpers import RECENT

NS = int(RECENT.timestamp()) * 1_000_000_000
RESOURCE = Resource.create(
    {"service.name": "shop-web", "service.version": "1.4.0", "session.id": "sess_sdk"}
)


def _expected(**fields: Any) -> dict[str, Any]:
    """An event as GraphQL returns it: every field null but `fields` (receivedAt and
    userAgent, which the tests check apart)."""
    event: dict[str, Any] = dict.fromkeys(EVENT_FIELDS)
    del event["receivedAt"], event["userAgent"]
    event.update(fields)
    return event


def _read(live, tenant) -> dict[str, dict[str, Any]]:
    events = events_read(live, secret_key=tenant.secret_key, project="proj_acme")
    for event in events:
        assert event.pop("receivedAt")
    return by_event_id(events)


def _spans():
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("shop.checkout")
    click = tracer.start_span(
        "buy button",
        attributes={"event.type": "ui.click", "ui.element": "button#buy", "cart.items": 3},
        start_time=NS,
    )
    click.end(end_time=NS + 12_500_000)  # 12.5 ms: rounded half-to-even to 12
    request = tracer.start_span(
        "POST /orders",
        attributes={"event.type": "api.request", "api.path": "/orders", "duration_ms": 40.6},
        start_time=NS + 1_000_000_000,
    )
    request.end(end_time=NS + 1_100_000_000)  # the attribute's 40.6 wins: 41
    internal = tracer.start_span("db query", attributes={"db.system": "postgresql"}, start_time=NS)
    internal.end(end_time=NS + 1)  # no event.type: refused, not invented
    return memory.get_finished_spans()


def _span_events(spans) -> dict[str, dict[str, Any]]:
    click, request, _ = spans
    resource = {"service.name": "shop-web", "service.version": "1.4.0"}

    def ids(span) -> tuple[str, dict[str, str]]:
        trace, own = f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"
        return f"otel-span-{trace}-{own}", {"trace.id": trace, "span.id": own}

    click_id, click_ids = ids(click)
    request_id, request_ids = ids(request)
    return {
        click_id: _expected(
            eventId=click_id,
            sessionId="sess_sdk",
            eventType="ui.click",
            eventName="buy button",
            timestamp=RECENT.isoformat(),
            uiElement="button#buy",
            durationMs=12,
            attributes={**resource, **click_ids, "cart.items": 3},
        ),
        request_id: _expected(
            eventId=request_id,
            sessionId="sess_sdk",
            eventType="api.request",
            eventName="POST /orders",
            timestamp=RECENT.replace(second=1).isoformat(),
            apiPath="/orders",
            durationMs=41,
            attributes={**resource, **request_ids},
        ),
    }


@pytest.mark.parametrize(
    "exporter",
    [
        lambda url, key: OTLPSpanExporter(
            endpoint=f"{url}/v1/traces", headers={"x-pg-api-key": key}, compression=Compression.Gzip
        ),
        lambda url, key: JsonSpanExporter(
            endpoint=f"{url}/v1/traces", headers={"x-pg-api-key": key}
        ),
    ],
    ids=["protobuf-gzip", "json"],
)
def test_sdk_spans_are_stored_field_for_field_and_a_resend_is_a_duplicate(
    live, committed, exporter
):
    tenant = make_tenant("acme")
    spans = _spans()
    client = exporter(f"http://127.0.0.1:{live.port}", tenant.ingest_key)
    assert client.export(spans) == SpanExportResult.SUCCESS
    assert client.export(spans) == SpanExportResult.SUCCESS  # the exporter's retry, say
    client.shutdown()
    stored = _read(live, tenant)
    user_agents = {event.pop("userAgent") for event in stored.values()}
    expected = _span_events(spans)
    assert set(stored) == set(expected)
    for event_id, event in expected.items():
        assert stored[event_id] == event
    assert len(user_agents) == 1 and user_agents.pop().startswith("OTel-OTLP")


def test_the_env_var_configuration_of_the_docs_works_for_both_encodings(
    live, committed, monkeypatch
):
    tenant = make_tenant("acme")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{live.port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"x-pg-api-key={tenant.ingest_key}")
    spans = _spans()
    assert OTLPSpanExporter().export(spans) == SpanExportResult.SUCCESS
    assert JsonSpanExporter().export(spans) == SpanExportResult.SUCCESS  # same ids: duplicates
    assert set(_read(live, tenant)) == set(_span_events(spans))


def _logs():
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("shop.web")
    logger.emit(
        timestamp=NS + 250_000_000,
        body="viewed the cart",
        attributes={"event.type": "page.view", "page.path": "/cart", "page.title": "Cart"},
        event_name="cart.view",
    )
    logger.emit(
        timestamp=NS + 500_000_000,
        body={"reason": "card declined", "codes": [51, 5]},
        attributes={"event.type": "error", "error.type": "PaymentError", "session.id": "sess_2"},
    )
    logger.emit(body="a plain application log line", attributes={"http.method": "GET"})
    return memory.get_finished_logs()


@pytest.mark.parametrize(
    "exporter",
    [
        lambda url, key: OTLPLogExporter(endpoint=f"{url}/v1/logs", headers={"x-pg-api-key": key}),
        lambda url, key: JsonLogExporter(
            endpoint=f"{url}/v1/logs",
            headers={"x-pg-api-key": key},
            compression=JsonCompression.GZIP,
        ),
    ],
    ids=["protobuf", "json-gzip"],
)
def test_sdk_log_records_are_stored_field_for_field_and_a_resend_is_a_duplicate(
    live, committed, exporter
):
    tenant = make_tenant("acme")
    logs = _logs()
    client = exporter(f"http://127.0.0.1:{live.port}", tenant.ingest_key)
    assert client.export(logs) == LogRecordExportResult.SUCCESS
    assert client.export(logs) == LogRecordExportResult.SUCCESS
    client.shutdown()
    stored = sorted(_read(live, tenant).values(), key=lambda event: event["timestamp"])
    for event in stored:
        assert event.pop("eventId").startswith("otel-log-")
        assert event.pop("userAgent").startswith("OTel-OTLP")
    resource = {"service.name": "shop-web", "service.version": "1.4.0"}
    expected = [
        _expected(
            sessionId="sess_sdk",
            eventType="page.view",
            eventName="cart.view",
            timestamp=RECENT.replace(microsecond=250_000).isoformat(),
            pagePath="/cart",
            pageTitle="Cart",
            attributes={**resource, "log.body": "viewed the cart"},
        ),
        _expected(
            sessionId="sess_2",
            eventType="error",
            timestamp=RECENT.replace(microsecond=500_000).isoformat(),
            errorType="PaymentError",
            attributes={**resource, "log.body": {"reason": "card declined", "codes": [51, 5]}},
        ),
    ]
    for event in expected:
        del event["eventId"]  # derived from a digest of the record: checked above
    assert stored == expected
