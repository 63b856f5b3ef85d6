"""OTLP bodies read (ingestion/otlp/decoding.py): protobuf and JSON alike, JSON's
numbers and times as the spec writes them."""

from __future__ import annotations

import json
import math

import pytest

from ingestion.otlp import decoding
from tests.ingestion.helpers import stored
from tests.ingestion.otlp.helpers import NS, TRACE_ID, log_record, logs_export, otlp_json, send


def test_anyvalues_flatten_the_same_from_protobuf_and_json():
    attributes = {
        "s": "x",
        "i": -(2**63),
        "d": 1.0,
        "b": False,
        "a": [1, "two", [3.5]],
        "kv": {"k": {"deep": True}},
        "bytes": b"\x00\xff",
    }
    export = logs_export(log_record(attributes), resource={})
    nan = logs_export(log_record({"nan": math.nan, "inf": -math.inf}), resource={})
    for message in (export, nan):
        from_protobuf = decoding.logs_from_protobuf(message.SerializeToString())
        assert decoding.logs_from_json(otlp_json(message)) == from_protobuf
    [record] = decoding.logs_from_protobuf(export.SerializeToString())
    assert record.attributes == {**attributes, "bytes": "AP8="}
    [record] = decoding.logs_from_protobuf(nan.SerializeToString())
    assert record.attributes == {"nan": "NaN", "inf": "-Infinity"}


def test_json_takes_snake_case_int64_as_numbers_and_ignores_unknown_keys():
    body = {
        "resource_logs": [
            {
                "resource": {"attributes": [{"key": "session.id", "value": {"string_value": "s"}}]},
                "scope_logs": [
                    {
                        "log_records": [
                            {
                                "time_unix_nano": NS,
                                "trace_id": TRACE_ID.hex(),
                                "attributes": [
                                    {"key": "n", "value": {"int_value": 7}},
                                    {"key": "d", "value": {"doubleValue": "Infinity"}},
                                    {"key": "e", "value": {}},
                                ],
                                "somethingNew": {"x": 1},
                            }
                        ]
                    }
                ],
            }
        ]
    }
    [record] = decoding.logs_from_json(json.dumps(body).encode())
    assert record.inherited == {"session.id": "s"}
    assert record.attributes == {"n": 7, "d": "Infinity"}
    assert (record.time_ns, record.trace_id) == (NS, TRACE_ID)


@pytest.mark.parametrize("path", ["/v1/logs", "/v1/traces"])
def test_a_json_double_beyond_a_double_is_an_infinity_not_a_500(client, acme, path):
    """Found by attack: a 400-digit integer as a doubleValue was float() -> OverflowError."""
    block = "resourceLogs" if path == "/v1/logs" else "resourceSpans"
    value = '{"doubleValue": ' + "9" * 400 + "}"
    body = f'{{"{block}": [{{"resource": {{"attributes": [{{"key": "d", "value": {value}}}]}}}}]}}'
    response = send(client, path, body.encode(), key=acme.ingest_key, encoding=decoding.JSON)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "value", ['" 1765000000000000000 "', '"1_765_000_000_000_000_000"', '"+1"']
)
def test_a_json_time_must_be_plain_decimal_digits(client, acme, value):
    record = (
        '{"timeUnixNano": ' + value + ', "attributes": '
        '[{"key": "session.id", "value": {"stringValue": "s"}}]}'
    )
    body = '{"resourceLogs": [{"scopeLogs": [{"logRecords": [' + record + "]}]}]}"
    response = send(client, "/v1/logs", body.encode(), key=acme.ingest_key, encoding=decoding.JSON)
    assert response.status_code == 400, response.content
    assert stored(acme.org.pk) == []
