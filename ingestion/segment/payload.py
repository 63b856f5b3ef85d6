"""Decode a Segment-spec body: `{"batch": [...], "writeKey", "sentAt", "context"}` on
/v1/batch, one message on /v1/track, /v1/page, ... (segment.md, "Rejections")."""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from ingestion.body import MAX_EVENTS, BodyError, decode_event, decode_json, key_in
from ingestion.errors import IngestionErrorCode
from ingestion.validation import UnrepresentableEvent

WRITE_KEY = "writeKey"  # where a Segment body may carry its write key


class Payload(NamedTuple):
    """A decoded body: its messages, its key (`writeKey`) or None, and the batch's own
    `sentAt` and `context` (None for a single call, whose message holds its own)."""

    messages: list[Any]
    key: str | None
    sent_at: Any
    context: Any


def _decode_message_by_message(raw: bytes) -> Any:
    """Decode again, each message on its own: a message holding a number out of range is
    that message's error, never a whole-batch 400 (as /v1/events does with events)."""
    try:
        body = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
    except msgspec.ValidationError:
        return None  # not an object
    decoded: dict[str, Any] = {key: decode_event(value) for key, value in body.items()}
    if isinstance(decoded.get("batch"), UnrepresentableEvent):
        try:
            listed = msgspec.json.decode(body["batch"], type=list[msgspec.Raw])
        except msgspec.ValidationError:
            pass  # not a list: decode_payload answers invalid_body
        else:
            decoded["batch"] = [decode_event(message) for message in listed]
    return decoded


def decode_payload(raw: bytes, *, single: bool) -> Payload:
    """Decode a body or raise a 400: `invalid_json` (not JSON), `invalid_body` (not an
    object; on /v1/batch, no list `batch`), `batch_too_large` (over 1,000 messages).

    `single`: the body is one message (a single-call endpoint); a number out of range in it
    makes it that message's error.
    """
    body = decode_json(raw, again=_decode_message_by_message)
    if not isinstance(body, dict):
        expected = "a message" if single else '{"batch": [...]}'
        raise BodyError(
            400, IngestionErrorCode.INVALID_BODY, f"The body must be a JSON object: {expected}."
        )
    write_key = key_in(body, WRITE_KEY)
    if single:
        if any(isinstance(value, UnrepresentableEvent) for value in body.values()):
            return Payload([UnrepresentableEvent()], write_key, None, None)
        return Payload([body], write_key, None, None)
    messages = body.get("batch")
    if not isinstance(messages, list):
        raise BodyError(
            400,
            IngestionErrorCode.INVALID_BODY,
            'The body must have "batch": a list of messages.',
        )
    if len(messages) > MAX_EVENTS:
        raise BodyError(
            400,
            IngestionErrorCode.BATCH_TOO_LARGE,
            f"A batch holds at most {MAX_EVENTS} messages; this one has {len(messages)}. "
            "Nothing was stored.",
        )
    return Payload(messages, write_key, body.get("sentAt"), body.get("context"))
