"""POST /v1/logs and /v1/traces (ingestion/otlp/views.py; docs/reference/otlp.md): every
answer, the key rules, exactly-once across encodings, and no 5xx on any body."""

from __future__ import annotations

import gzip
import json

import pytest
from django.db import transaction
from google.rpc import code_pb2, status_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ingestion import ratelimit
from orgs import selectors
from orgs.models import Project
from productgraph.tenancy.context import org_context
from tests.ingestion.helpers import RECENT, stored
from tests.ingestion.otlp.helpers import (
    PROTOBUF,
    SPAN_ID,
    TRACE_ID,
    answer,
    log_record,
    logs_export,
    page_view,
    send,
    span,
    status_of,
    traces_export,
)


@pytest.mark.parametrize("encoding", [PROTOBUF, "application/json"])
def test_a_log_export_is_stored_field_for_field(client, acme, encoding):
    export = logs_export(
        log_record(page_view(**{"ui.viewport": "390x844", "cart.items": 3}), body="hi"),
        log_record({"event.type": "ui.click", "ui.element": "button#buy"}),
    )
    response = send(client, "/v1/logs", export, key=acme.ingest_key, encoding=encoding)
    assert response["Content-Type"] == encoding
    assert not answer(response).HasField("partial_success")
    first, second = stored(acme.org.pk)
    assert (first.session_id, first.event_type, first.page_path, first.ui_viewport) == (
        "sess_otel",
        "page.view",
        "/cart",
        "390x844",
    )
    assert first.timestamp == RECENT
    assert first.attributes == {"service.name": "shop-web", "cart.items": 3, "log.body": "hi"}
    assert (second.event_type, second.ui_element) == ("ui.click", "button#buy")
    assert first.event_id != second.event_id


def test_a_span_export_is_stored_with_a_rounded_duration(client, acme):
    export = traces_export(span({"event.type": "api.request", "api.status_code": 201}))
    response = send(client, "/v1/traces", export, key=acme.ingest_key)
    assert not answer(response, "/v1/traces").HasField("partial_success")
    [row] = stored(acme.org.pk)
    assert (row.event_type, row.event_name, row.api_status_code) == ("api.request", "checkout", 201)
    assert row.duration_ms == 12  # 12.5 ms, rounded half-to-even
    assert row.event_id == f"otel-span-{TRACE_ID.hex()}-{SPAN_ID.hex()}"
    assert row.attributes["trace.id"] == TRACE_ID.hex()


@pytest.mark.parametrize(
    ("path", "export"),
    [
        ("/v1/logs", logs_export(log_record(page_view()), log_record(page_view(), body="b"))),
        ("/v1/traces", traces_export(span(page_view()), span(page_view(), span_id=b"\x01" * 8))),
    ],
    ids=["logs", "traces"],
)
def test_a_resend_in_either_encoding_is_a_duplicate_not_a_second_row(client, acme, path, export):
    for encoding in (PROTOBUF, "application/json", PROTOBUF):
        response = send(client, path, export, key=acme.ingest_key, encoding=encoding)
        assert not answer(response, path).HasField("partial_success")
    assert len(stored(acme.org.pk)) == 2


def test_gzip_bodies_are_read(client, acme):
    export = traces_export(span(page_view()))
    response = send(
        client,
        "/v1/traces",
        gzip.compress(export.SerializeToString()),
        key=acme.ingest_key,
        HTTP_CONTENT_ENCODING="gzip",
    )
    assert response.status_code == 200
    assert len(stored(acme.org.pk)) == 1


def test_refused_records_are_a_partial_success_and_the_rest_is_stored(client, acme):
    export = logs_export(
        log_record(page_view()),
        log_record({"page.path": "/no-type"}),
        log_record({"event.type": "nope"}),
        log_record(page_view(**{"event.sequence": -1})),
    )
    for encoding in (PROTOBUF, "application/json"):
        response = send(client, "/v1/logs", export, key=acme.ingest_key, encoding=encoding)
        partial = answer(response).partial_success
        assert partial.rejected_log_records == 3
        assert partial.error_message.startswith("log record 1: no event.type attribute")
        assert "log record 2: event.type " in partial.error_message
        assert "log record 3: event.sequence " in partial.error_message
    assert len(stored(acme.org.pk)) == 1


def test_an_export_of_only_unusable_records_is_200_all_rejected(client, acme):
    export = traces_export(
        *(span({"http.method": "GET"}, span_id=bytes([i]) * 8) for i in range(7))
    )
    partial = answer(send(client, "/v1/traces", export, key=acme.ingest_key), "/v1/traces")
    assert partial.partial_success.rejected_spans == 7
    assert partial.partial_success.error_message.endswith("; and 2 more problems")
    assert stored(acme.org.pk) == []


def test_an_empty_export_is_200_empty(client, acme):
    for path, export in [("/v1/logs", logs_export()), ("/v1/traces", ExportTraceServiceRequest())]:
        for encoding in (PROTOBUF, "application/json"):
            response = send(client, path, export, key=acme.ingest_key, encoding=encoding)
            assert not answer(response, path).HasField("partial_success")


def test_1001_records_are_400_batch_too_large_and_nothing_stored(client, acme):
    export = logs_export(*(log_record(page_view(), observed_time_unix_nano=i) for i in range(1001)))
    response = send(client, "/v1/logs", export, key=acme.ingest_key)
    assert status_of(response)[:2] == (400, "batch_too_large")
    assert "at most 1000 log records; this one has 1001" in status_of(response)[2]
    assert stored(acme.org.pk) == []


@pytest.mark.parametrize(
    ("path", "body", "encoding", "problem"),
    [
        ("/v1/logs", b"\xff\xff\xff", PROTOBUF, "not a protobuf ExportLogsServiceRequest"),
        ("/v1/traces", b'{"resourceSpans": [', "application/json", "not valid JSON"),
        ("/v1/logs", b"[]", "application/json", "must be a JSON object"),
        ("/v1/logs", b'{"resourceLogs": {}}', "application/json", "resourceLogs must be a list"),
        ("/v1/logs", b'{"resourceSpans": []}', "application/json", "send it to /v1/traces"),
        (
            "/v1/traces",
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
            "application/json",
            "traceId must be hex digits",
        ),
        (
            "/v1/traces",
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": -1}]}]}]}',
            "application/json",
            "startTimeUnixNano must be an integer",
        ),
        ("/v1/logs", b"\x1f\x8b garbage", PROTOBUF, "gzip body is corrupt"),
    ],
)
def test_a_body_not_in_its_content_types_format_is_400(client, acme, path, body, encoding, problem):
    gzipped = {"HTTP_CONTENT_ENCODING": "gzip"} if body.startswith(b"\x1f\x8b") else {}
    response = send(client, path, body, key=acme.ingest_key, encoding=encoding, **gzipped)
    status, _, message = status_of(response)
    assert status == 400 and problem in message, message
    assert response["Content-Type"] == encoding
    assert stored(acme.org.pk) == []


def test_another_content_type_is_415_and_an_oversized_body_413(client, acme):
    response = send(client, "/v1/logs", b"x", key=acme.ingest_key, encoding="text/plain")
    assert status_of(response)[:2] == (415, "unsupported_media_type")
    assert response["Content-Type"] == "application/json"
    response = send(
        client,
        "/v1/traces",
        b"x",
        key=acme.ingest_key,
        CONTENT_LENGTH=str(11 * 1024 * 1024),
    )
    assert status_of(response)[:2] == (413, "payload_too_large")


@pytest.mark.parametrize("encoding", [PROTOBUF, "application/json"])
def test_no_key_or_an_unknown_key_is_401_in_the_requests_encoding(client, acme, encoding):
    export = logs_export(log_record(page_view()))
    response = send(client, "/v1/logs", export, key=None, encoding=encoding)
    assert status_of(response)[:2] == (401, "missing_api_key")
    assert response["Content-Type"] == encoding
    assert (
        status_pb2.Status.FromString(response.content).code == code_pb2.UNAUTHENTICATED
        if encoding == PROTOBUF
        else True
    )
    response = send(client, "/v1/logs", export, key="pk_" + "x" * 40, encoding=encoding)
    assert status_of(response)[:2] == (401, "invalid_api_key")
    assert stored(acme.org.pk) == []


def test_the_key_may_be_in_the_query_string_or_a_bearer_header(client, acme):
    export = traces_export(span(page_view()))
    path = f"/v1/traces?api_key={acme.ingest_key}"
    assert send(client, path, export, key=None).status_code == 200
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {acme.ingest_key}"}
    assert send(client, "/v1/traces", export, key=None, **bearer).status_code == 200
    assert len(stored(acme.org.pk)) == 1
    secret_in_query = send(client, f"/v1/traces?api_key={acme.secret_key}", export, key=None)
    assert status_of(secret_in_query)[:2] == (401, "wrong_key_kind")


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_other_methods_are_405_as_a_status(client, acme, method):
    response = getattr(client, method)("/v1/logs", HTTP_X_PG_API_KEY=acme.ingest_key)
    assert status_of(response)[:2] == (405, "method_not_allowed")


def test_over_the_rate_limit_is_429_with_retry_after_and_nothing_stored(client, acme):
    with transaction.atomic(), org_context(acme.org.pk):
        Project.objects.filter(pk=acme.project.pk).update(rate_limit_per_second=10)
    selectors._project_cache.clear()  # ids restart after a committed test: no stale project
    ratelimit._redis().delete(ratelimit.bucket_key(acme.project.pk))
    first = traces_export(*(span(page_view(), span_id=bytes([1, i]) * 4) for i in range(20)))
    assert send(client, "/v1/traces", first, key=acme.ingest_key).status_code == 200
    second = traces_export(*(span(page_view(), span_id=bytes([2, i]) * 4) for i in range(5)))
    response = send(client, "/v1/traces", second, key=acme.ingest_key)
    assert status_of(response)[:2] == (429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    assert len(stored(acme.org.pk)) == 20


def test_database_unavailable_is_503_with_retry_after(client, committed):
    from tests.conftest import database_down, make_tenant

    acme = make_tenant("acme")
    with database_down():
        response = send(
            client, "/v1/logs", logs_export(log_record(page_view())), key=acme.ingest_key
        )
    assert response.status_code == 503
    # The tenancy middleware answers before the view runs (its transaction cannot open), in
    # the kernel's envelope: OTLP clients retry a 503 whatever its body, after Retry-After.
    assert response["Retry-After"].isdigit()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(["/v1/logs", "/v1/traces"]),
    encoding=st.sampled_from([PROTOBUF, "application/json"]),
    body=st.one_of(
        st.binary(max_size=300),
        st.sampled_from(
            [
                logs_export(log_record(page_view())).SerializeToString(),
                traces_export(span(page_view())).SerializeToString(),
            ]
        ).flatmap(lambda raw: st.integers(0, len(raw)).map(lambda cut: raw[:cut])),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "resourceLogs",
                            "resourceSpans",
                            "scopeLogs",
                            "scopeSpans",
                            "spans",
                            "logRecords",
                            "attributes",
                            "key",
                            "value",
                            "stringValue",
                            "intValue",
                            "kvlistValue",
                            "arrayValue",
                            "values",
                            "traceId",
                            "timeUnixNano",
                        ]
                    ),
                    inner,
                    max_size=3,
                )
            ),
            max_leaves=20,
        ).map(lambda document: json.dumps(document).encode()),
    ),
)
def test_no_body_is_ever_a_5xx(client, acme, path, encoding, body):
    response = send(client, path, body, key=acme.ingest_key, encoding=encoding)
    assert response.status_code in (200, 400), (response.status_code, response.content)
    if response.status_code == 400:
        assert status_of(response)[1] in ("invalid_body", "batch_too_large")
