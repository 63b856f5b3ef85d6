"""Shared helpers of the Segment door's tests: messages and batches posted as a
Segment client posts them, and its error answers."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.ingestion.helpers import RECENT

TIMESTAMP = RECENT.isoformat(timespec="milliseconds")  # as analytics-python sends it
DAY = TIMESTAMP[:10]


def basic(key: str) -> str:
    """Segment's way: the write key as the HTTP Basic user, no password."""
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def send(client, path: str, payload: Any, *, key: str | None = None, **headers: Any):
    """POST like a Segment client: JSON, the key as the Basic user (unless `key` is None)."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if key is not None:
        headers.setdefault("HTTP_AUTHORIZATION", basic(key))
    headers.setdefault("content_type", "application/json")
    return client.post(path, data=data, **headers)


def message(**fields: Any) -> dict[str, Any]:
    """A track message as analytics-python sends it; keyword arguments override."""
    base: dict[str, Any] = {
        "type": "track",
        "event": "Order Completed",
        "messageId": "msg-1",
        "anonymousId": "anon-1",
        "timestamp": TIMESTAMP,
        "properties": {"revenue": 12.5, "currency": "EUR"},
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
        "integrations": {},
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def batch(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"batch": list(messages), "sentAt": TIMESTAMP, **extra}


def assert_error(response, status: int, code: str) -> None:
    """Our envelope, and Segment's top-level code and message its clients read."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert (body["code"], body["message"]) == (code, body["error"]["message"])
