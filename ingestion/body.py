"""Read a request body within the size limit, gzip included (bomb-safe), and decode it."""

from __future__ import annotations

import re
import zlib
from typing import IO, Any

import msgspec

from ingestion.errors import IngestionErrorCode
from ingestion.validation import UnrepresentableEvent

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_EVENTS = 1000
_CHUNK = 64 * 1024
_JSON_TYPES = ("application/json", "text/plain")


class BodyError(Exception):
    """A whole-request problem: HTTP status, stable code, message."""

    def __init__(self, status: int, code: IngestionErrorCode, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def too_large() -> BodyError:
    return BodyError(
        413,
        IngestionErrorCode.PAYLOAD_TOO_LARGE,
        f"The body is over {MAX_BODY_BYTES // (1024 * 1024)} MB (compressed or decompressed).",
    )


def check_length(content_length: int | None) -> None:
    """413 when the declared body is over the limit (before anything is read)."""
    if content_length is not None and content_length > MAX_BODY_BYTES:
        raise too_large()


def read_limited(stream: IO[bytes]) -> bytes:
    """Read at most MAX_BODY_BYTES from the stream; 413 beyond that."""
    data = stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise too_large()
    return data


def gunzip_limited(data: bytes) -> bytes:
    """Decompress gzip without ever holding more than MAX_BODY_BYTES + one chunk.

    Every member is decoded (RFC 1952 allows several, as `cat a.gz b.gz` makes); bytes after
    the last member that are not gzip are a corrupt body, never silently dropped.
    """
    out = bytearray()
    rest = data
    try:
        while True:
            inflater = zlib.decompressobj(wbits=31)
            chunk = inflater.decompress(rest, _CHUNK)
            while True:
                out += chunk
                if len(out) > MAX_BODY_BYTES:
                    raise too_large()
                if not inflater.unconsumed_tail:
                    break
                chunk = inflater.decompress(inflater.unconsumed_tail, _CHUNK)
            out += inflater.flush()
            if len(out) > MAX_BODY_BYTES:
                raise too_large()
            if not inflater.eof:
                raise BodyError(400, IngestionErrorCode.INVALID_JSON, "The gzip body is truncated.")
            rest = inflater.unused_data
            if not rest:
                return bytes(out)
    except zlib.error as exc:
        raise BodyError(400, IngestionErrorCode.INVALID_JSON, "The gzip body is corrupt.") from exc


def check_content_type(content_type: str) -> None:
    """415 unless the media type is JSON or text/plain (what sendBeacon sends)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in _JSON_TYPES:
        raise BodyError(
            415,
            IngestionErrorCode.UNSUPPORTED_MEDIA_TYPE,
            "Send Content-Type: application/json (or text/plain).",
        )


def _decode_event_by_event(raw: bytes) -> Any:
    """Decode the body again, each event on its own: an event holding a number out of
    range (`1e400`, a 5,000-digit integer) becomes an `UnrepresentableEvent`, that event's
    error (events.md: one event's problem is never a whole-batch 400). Anything else the
    body holds (not an object, `events` not a list) is left for `decode_batch`'s checks."""
    try:
        body = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
    except msgspec.ValidationError:
        return None  # not an object
    try:
        listed = msgspec.json.decode(body.get("events", b"null"), type=list[msgspec.Raw])
    except msgspec.ValidationError:
        return {}  # no list of events
    return {"events": [decode_event(event) for event in listed]}


def decode_event(raw: bytes | msgspec.Raw) -> Any:
    """One event's JSON (a line of `import_events`, an event of a batch). Well-formed JSON
    holding a number out of range is an `UnrepresentableEvent`, that event's error;
    malformed JSON raises `msgspec.DecodeError` (msgspec reports the range first)."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.ValidationError:
        msgspec.json.decode(raw, type=msgspec.Raw)  # the syntax alone: raises if malformed
        return UnrepresentableEvent()


# A surrogate escape with no partner: `\ud800` alone, or a low half with no high half before.
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def json_problem(raw: bytes, exc: msgspec.DecodeError) -> str:
    """What is wrong with JSON msgspec refused, in words a client can act on: msgspec calls
    a lone surrogate escape "truncated input"."""
    if str(exc) == "Input data was truncated" and _LONE_SURROGATE.search(raw):
        return "a string holds a lone surrogate escape (\\ud800-\\udfff without its pair)"
    return str(exc)


def decode_batch(raw: bytes) -> list[Any]:
    """Decode `{"events": [...]}`; return the events list or raise a 400."""
    try:
        try:
            body = msgspec.json.decode(raw)
        except msgspec.ValidationError:  # well-formed, but a number is out of range
            body = _decode_event_by_event(raw)
    except msgspec.DecodeError as exc:
        problem = json_problem(raw, exc)
        raise BodyError(
            400, IngestionErrorCode.INVALID_JSON, f"The body is not valid JSON: {problem}"
        ) from exc
    except UnicodeDecodeError as exc:  # a string that is not UTF-8 (a Latin-1 client, say)
        raise BodyError(
            400, IngestionErrorCode.INVALID_JSON, f"The body is not valid UTF-8: {exc.reason}."
        ) from exc
    except RecursionError as exc:
        raise BodyError(
            400, IngestionErrorCode.INVALID_JSON, "The body is nested too deeply."
        ) from exc
    if not isinstance(body, dict):
        raise BodyError(
            400,
            IngestionErrorCode.INVALID_BODY,
            'The body must be a JSON object: {"events": [...]}.',
        )
    events = body.get("events")
    if not isinstance(events, list):
        raise BodyError(
            400, IngestionErrorCode.INVALID_BODY, 'The body must have "events": a list of events.'
        )
    if len(events) > MAX_EVENTS:
        raise BodyError(
            400,
            IngestionErrorCode.BATCH_TOO_LARGE,
            f"A batch holds at most {MAX_EVENTS} events; this one has {len(events)}. "
            "Nothing was stored.",
        )
    return events
