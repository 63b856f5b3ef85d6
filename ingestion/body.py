"""Read a request body within the size limit, gzip included (bomb-safe), and decode it."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import IO, Any, NamedTuple

import msgspec
from django.http import HttpRequest

from ingestion.errors import IngestionErrorCode
from ingestion.validation import UnrepresentableEvent

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_EVENTS = 1000
_CHUNK = 64 * 1024
JSON_TYPES = ("application/json", "text/plain")


class BodyError(Exception):
    """A whole-request problem: HTTP status, stable code, message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


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


def media_type_of(content_type: str) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return content_type.split(";", 1)[0].strip().lower()


def check_content_type(
    content_type: str,
    accepted: tuple[str, ...] = JSON_TYPES,
    hint: str = "Send Content-Type: application/json (or text/plain).",
) -> str:
    """Return the media type; 415 unless it is one of `accepted` (by default JSON or
    text/plain, what sendBeacon sends)."""
    media_type = media_type_of(content_type)
    if media_type not in accepted:
        raise BodyError(415, IngestionErrorCode.UNSUPPORTED_MEDIA_TYPE, hint)
    return media_type


def read_request_body(
    request: HttpRequest,
    accepted: tuple[str, ...] = JSON_TYPES,
    hint: str = "Send Content-Type: application/json (or text/plain).",
) -> tuple[bytes, str]:
    """Read a door's body: return (the bytes, decompressed, and the media type).

    api.md's order: 413 (the declared length, the bytes read, or too large once
    decompressed), then 415 (an encoding other than gzip, a media type not `accepted`),
    then 400 (a gzip body that is corrupt).
    """
    meta = request.META
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0) or None
    except ValueError:
        length = None
    check_length(length)
    raw = read_limited(_body_stream(request, length))
    encoding = meta.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding not in ("", "identity", "gzip"):
        raise BodyError(
            415,
            IngestionErrorCode.UNSUPPORTED_MEDIA_TYPE,
            "Content-Encoding must be gzip or absent.",
        )
    corrupt: BodyError | None = None
    if encoding == "gzip":
        try:
            raw = gunzip_limited(raw)
        except BodyError as exc:
            if exc.status != 400:  # too large once decompressed: 413 comes first
                raise
            corrupt = exc  # not gzip: a 400, which a wrong content type outranks
    media_type = check_content_type(meta.get("CONTENT_TYPE", ""), accepted, hint)
    if corrupt is not None:
        raise corrupt
    return raw, media_type


def _body_stream(request: HttpRequest, length: int | None) -> IO[bytes]:
    """Where to read the body from. Django reads nothing without a Content-Length, so a
    chunked body (a client streaming gzip, say) is read from the server's own input, which
    gunicorn de-chunks up to the body's end."""
    if length is None and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return request.META["wsgi.input"]
    return request  # type: ignore[return-value]


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
    decoded: dict[str, Any] = {"events": [decode_event(event) for event in listed]}
    if BODY_KEY in body:
        decoded[BODY_KEY] = decode_event(body[BODY_KEY])
    return decoded


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


def decode_json(raw: bytes, *, again: Callable[[bytes], Any]) -> Any:
    """Decode a JSON body or raise 400 `invalid_json` (not JSON, not UTF-8, nested too
    deeply). Well-formed JSON holding a number out of range is decoded `again`, part by
    part, so that only the part holding it is refused (events.md: one event's problem is
    never a whole-batch 400)."""
    try:
        try:
            return msgspec.json.decode(raw)
        except msgspec.ValidationError:  # well-formed, but a number is out of range
            return again(raw)
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


BODY_KEY = "api_key"  # where a /v1/events body may carry its ingest key (api.md)


class Batch(NamedTuple):
    """A decoded `/v1/events` body: its events, and the key it carries (`api_key`) or None."""

    events: list[Any]
    key: str | None


def key_in(body: Any, field: str) -> str | None:
    """The key a decoded body carries in `field`: None when it carries none, "" when the
    value is not a string (an invalid key, never "no key")."""
    value = body.get(field) if isinstance(body, dict) else None
    return None if value is None else value if isinstance(value, str) else ""


def key_in_raw(raw: bytes, field: str) -> str | None:
    """The key a JSON object body carries in `field`, however wrong the rest of it is (1,001
    events, no list): so that its answer is the body's error, not a 401. None when the body
    is not a JSON object."""
    try:
        body = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
        value = msgspec.json.decode(body[field]) if field in body else None
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        return None
    return key_in({field: value}, field)


def decode_batch(raw: bytes) -> Batch:
    """Decode `{"events": [...], "api_key": "pk_..."}` (the key is optional) or raise a 400.

    A key that is not a string is kept as "" (an invalid key, never "no key")."""
    body = decode_json(raw, again=_decode_event_by_event)
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
    return Batch(events, key_in(body, BODY_KEY))
