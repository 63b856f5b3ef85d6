"""Segment-spec messages to events of our wire format (segment.md, ADR 0008).

Pure functions over decoded JSON: no database and no clock (the receive time is passed in).
`messages_map` turns a request's messages into events for `door.door_ingest`; each message
becomes one event, one error of its own, or is counted as ignored (a call type we do not
store). The events are then validated like any other door's: nothing here repeats the
catalog's rules.

Kept to plain dict work on purpose (the issue: at most 2x the cost per event of
/v1/events): one dict built per message, no parsing of anything we pass through unchanged.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

from ingestion.catalog import BY_KEY, IGNORED_KEYS, PROJECT_KEYS
from ingestion.validation import (
    INVALID,
    OUT_OF_RANGE,
    REQUIRED_MISSING,
    UnrepresentableEvent,
    json_type,
)

# The call types we store, and the event type each becomes.
EVENT_TYPES: dict[str, str] = {
    "track": "custom",
    "page": "page.view",
    "screen": "page.view",
    "identify": "custom",
    "group": "custom",
    "alias": "custom",
}
# Where the attributes come from, by call type (alias carries neither).
_ATTRIBUTES_FROM = {
    "track": "properties",
    "page": "properties",
    "screen": "properties",
    "identify": "traits",
    "group": "traits",
}
# The id a group or alias call links the user to, kept as an attribute of that name.
_LINKED_IDS = {"group": "groupId", "alias": "previousId"}
# A property or trait may not take a key the wire format reads as a field (or `project_id`,
# which must match the key's project): it is kept as an attribute under `properties.<key>`.
RESERVED = frozenset(BY_KEY) | frozenset(PROJECT_KEYS) | frozenset(IGNORED_KEYS)
RENAMED_PREFIX = "properties."
# context.page's keys (and a page call's properties) that fill our page fields.
_PAGE_FIELDS = (
    ("path", "page.path"),
    ("url", "page.url"),
    ("title", "page.title"),
    ("referrer", "page.referrer"),
)
# Where a session id may already be: Segment has none, some SDKs and plugins send one.
_SESSION_INTEGRATIONS = ("Actions Amplitude", "Amplitude")
_SCREEN_SIZE = frozenset(("width", "height"))
MAX_SESSION_ID = BY_KEY["session.id"].max_length or 255
DERIVED_PREFIX = "seg-"
# What differs between two sends of the same message, and so is left out of its digest.
_PER_SEND = frozenset(("sentAt", "writeKey", "receivedAt"))
# Our field -> the Segment field an error about it names (fields with one source only).
ERROR_FIELDS = {
    "event_id": "messageId",
    "user.id": "userId",
    "user.anonymous_id": "anonymousId",
    "event.timestamp": "timestamp",
    "attributes": "properties",
    "metadata": "context",
}


class Mapped(NamedTuple):
    """A request's messages as events for `door_ingest`, and what did not become one.

    `positions[i]` is the message index of `events[i]`; `user_agents` names events by their
    position in `events` (door_ingest's convention); `errors` index messages.
    """

    events: list[dict[str, Any]]
    positions: list[int]
    user_agents: dict[int, str]
    errors: list[dict[str, Any]]
    ignored: int


class MessageError(NamedTuple):
    """Why one message cannot become an event (an error entry once indexed)."""

    field: str | None
    code: str
    message: str


def _as_id(value: Any) -> Any:
    """An id as Segment's clients send it: a number becomes its string (as they do)."""
    if value.__class__ is int or value.__class__ is float:
        return str(value)
    return value


def derived_event_id(message: dict[str, Any], call_type: str) -> str:
    """A message's event id when it has no `messageId`: a digest of what it says.

    Stable (a resend is a duplicate, never a second row): the keys that change from one
    send to the next (`sentAt`, `writeKey`) are left out, and nothing random goes in.
    """
    stable = {key: value for key, value in message.items() if key not in _PER_SEND}
    stable["type"] = call_type
    digest = hashlib.blake2b(msgspec.json.encode(stable, order="sorted"), digest_size=16)
    return DERIVED_PREFIX + digest.hexdigest()


def derived_session_id(*, anonymous_id: Any, user_id: Any, day: str) -> str:
    """The session of a message that names none: one per person and calendar day.

    The anonymous id first (a browser keeps it across login), else the user id; `day` is the
    date part of the event's timestamp, in the offset the client sent (its local day).
    """
    who = f"a:{anonymous_id}" if anonymous_id else f"u:{user_id}"
    session = f"{DERIVED_PREFIX}{day}:{who}"
    if len(session) > MAX_SESSION_ID:
        digest = hashlib.blake2b(who.encode("utf-8", "surrogatepass"), digest_size=16)
        session = f"{DERIVED_PREFIX}{day}:{digest.hexdigest()}"
    return session


def _given_session_id(
    message: dict[str, Any], context: dict[str, Any], attributes: dict[str, Any] | None
) -> Any:
    """The session id a message carries (`context.sessionId`, `properties.session_id`, an
    Amplitude integration's `session_id`), or None."""
    session = context.get("sessionId")
    if session is None and attributes:
        session = attributes.get("session_id")
    if session is None:
        integrations = message.get("integrations")
        if isinstance(integrations, dict):
            for name in _SESSION_INTEGRATIONS:
                options = integrations.get(name)
                if isinstance(options, dict) and options.get("session_id") is not None:
                    return _as_id(options["session_id"])
    return _as_id(session)


def _parse_time(value: Any) -> datetime | None:
    if value.__class__ is not str:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def event_timestamp(message: dict[str, Any], sent_at: Any, received_at: datetime) -> Any:
    """The event's time, as Segment computes it.

    `timestamp` when given (unchanged: validation judges it); else `originalTimestamp`
    corrected by the client's clock skew, `receivedAt - (sentAt - originalTimestamp)`, when
    both parse (the message's own `sentAt` first, then the batch's) and the result is a
    date at all; else `originalTimestamp` as sent; else the receive time.
    """
    timestamp = message.get("timestamp")
    if timestamp is not None:
        return timestamp
    original = message.get("originalTimestamp")
    if original is None:
        return received_at.isoformat()
    sent = _parse_time(message.get("sentAt", sent_at))
    started = _parse_time(original)
    if sent is None or started is None:
        return original
    try:
        return (received_at - (sent - started)).isoformat()
    except OverflowError:  # a skew of millennia (a broken clock): validation judges the time
        return original


def message_event(
    message: Any,
    *,
    call_type: str | None,
    sent_at: Any,
    context: Any,
    received_at: datetime,
) -> dict[str, Any] | MessageError | None:
    """Map one Segment message to an event of our wire format.

    `call_type` is the endpoint's (`/v1/track`: "track"; it wins over the body's `type`),
    None on `/v1/batch`. `sent_at` and `context` are the batch's, used when the message has
    none. Returns the event, a `MessageError`, or None for a call type we do not store.
    """
    if message.__class__ is not dict:
        if isinstance(message, UnrepresentableEvent):
            return MessageError(None, INVALID, OUT_OF_RANGE)
        return MessageError(
            None, INVALID, f"a message must be a JSON object, not {json_type(message)}"
        )
    kind = call_type or message.get("type")
    if kind is None:
        return MessageError("type", REQUIRED_MISSING, "is required on /v1/batch")
    event_type = EVENT_TYPES.get(kind) if kind.__class__ is str else None
    if event_type is None:
        if kind.__class__ is str:
            return None
        return MessageError("type", INVALID, f"must be a string, not {json_type(kind)}")
    user_id = _as_id(message.get("userId"))
    anonymous_id = _as_id(message.get("anonymousId"))
    if not user_id and not anonymous_id:
        return MessageError(
            "anonymousId", REQUIRED_MISSING, "a message needs a userId or an anonymousId"
        )
    own_context = message.get("context")
    if own_context is None:
        own_context = context if context.__class__ is dict else {}
    elif own_context.__class__ is not dict:
        return MessageError("context", INVALID, f"must be an object, not {json_type(own_context)}")

    source = _ATTRIBUTES_FROM.get(kind)
    attributes = message.get(source) if source else None
    if attributes is None and kind == "identify":  # RudderStack's SDKs send them there
        attributes = own_context.get("traits")
        source = "context.traits"
    if attributes is None:
        event: dict[str, Any] = {}
    elif attributes.__class__ is not dict:
        return MessageError(source, INVALID, f"must be an object, not {json_type(attributes)}")
    elif RESERVED.isdisjoint(attributes):  # the usual case: no key to rename
        event = attributes.copy()
    else:
        event = {
            (RENAMED_PREFIX + key if key in RESERVED else key): value
            for key, value in attributes.items()
        }

    if kind == "track":
        name = message.get("event")
        if name is None:
            return MessageError("event", REQUIRED_MISSING, "a track call needs its event name")
    elif kind == "page" or kind == "screen":
        name = message.get("name")
        category = message.get("category")
        if category is not None:
            event["category"] = category
    else:
        name = kind
        linked = _LINKED_IDS.get(kind)
        if linked is not None and message.get(linked) is not None:
            event[linked] = _as_id(message[linked])

    timestamp = event_timestamp(message, sent_at, received_at)
    session_in_context = own_context.get("sessionId") is not None
    session = _given_session_id(message, own_context, attributes)
    if session is None:
        day = timestamp[:10] if timestamp.__class__ is str else ""
        session = derived_session_id(anonymous_id=anonymous_id, user_id=user_id, day=day)
    message_id = message.get("messageId")

    event["event_id"] = (
        derived_event_id(message, kind) if message_id is None else _as_id(message_id)
    )
    event["session.id"] = session
    event["event.type"] = event_type
    event["event.timestamp"] = timestamp
    event["event.name"] = name
    if user_id:
        event["user.id"] = user_id
    if anonymous_id:
        event["user.anonymous_id"] = anonymous_id

    # What of the context becomes a column is not kept again in metadata.context: the
    # rest is (measured: the whole context in metadata made an event through this door cost
    # 1.96x one through /v1/events in `make bench`, over the 2x with noise).
    rest = own_context.copy()
    page = own_context.get("page")
    if page.__class__ is dict:
        page_rest = page.copy()
        for key, field in _PAGE_FIELDS:
            value = page.get(key)
            if value.__class__ is str:
                event[field] = value
                del page_rest[key]
        _keep(rest, "page", page_rest)
    if kind == "page" and attributes:  # the call's own properties win over its context
        for key, field in _PAGE_FIELDS:
            value = attributes.get(key)
            if value.__class__ is str:
                event[field] = value
    screen = own_context.get("screen")
    if screen.__class__ is dict:
        width, height = screen.get("width"), screen.get("height")
        if width.__class__ is int and height.__class__ is int:
            event["ui.viewport"] = f"{width}x{height}"
            _keep(rest, "screen", {k: v for k, v in screen.items() if k not in _SCREEN_SIZE})
    if own_context.get("userAgent").__class__ is str:  # the event's user agent
        del rest["userAgent"]
    if session_in_context:
        del rest["sessionId"]

    metadata: dict[str, Any] = {"segment": kind, "context": rest}
    channel = message.get("channel")
    if channel is not None:
        metadata["channel"] = channel
    event["metadata"] = metadata
    return event


def _keep(context: dict[str, Any], key: str, rest: dict[str, Any]) -> None:
    """Keep what is left of `context[key]` once mapped, or nothing when nothing is left."""
    if rest:
        context[key] = rest
    else:
        del context[key]


def user_agent_of(message: Any, context: Any) -> str | None:
    """The browser's user agent a message names (`context.userAgent`, its own context or
    else the batch's), or None."""
    own = message.get("context") if message.__class__ is dict else None
    if own is None:
        own = context
    agent = own.get("userAgent") if own.__class__ is dict else None
    return agent if agent.__class__ is str else None


def messages_map(
    messages: list[Any],
    *,
    call_type: str | None,
    sent_at: Any = None,
    context: Any = None,
    received_at: datetime,
) -> Mapped:
    """Map a request's messages (see `message_event`); keep which message each event is."""
    events: list[dict[str, Any]] = []
    positions: list[int] = []
    user_agents: dict[int, str] = {}
    errors: list[dict[str, Any]] = []
    ignored = 0
    for index, message in enumerate(messages):
        mapped = message_event(
            message,
            call_type=call_type,
            sent_at=sent_at,
            context=context,
            received_at=received_at,
        )
        if isinstance(mapped, dict):
            agent = user_agent_of(message, context)
            if agent is not None:
                user_agents[len(events)] = agent
            events.append(mapped)
            positions.append(index)
        elif mapped is None:
            ignored += 1
        else:
            errors.append(
                {
                    "index": index,
                    "field": mapped.field,
                    "code": mapped.code,
                    "message": mapped.message,
                }
            )
    return Mapped(events, positions, user_agents, errors, ignored)


def answer_of(mapped: Mapped, result: dict[str, Any]) -> dict[str, Any]:
    """The door's 200 body: Segment's `{"success": true}` and our counts.

    `result` is `door_ingest`'s (`IngestResult.as_dict()`), whose error indexes are
    positions in `mapped.events`: they become message indexes, and a field of ours with one
    Segment source is named by it (`event_id` -> `messageId`). Errors are in message order.
    """
    positions = mapped.positions
    errors = mapped.errors + [
        {
            **error,
            "index": positions[error["index"]],
            "field": ERROR_FIELDS.get(error["field"], error["field"]),
        }
        for error in result["errors"]
    ]
    errors.sort(key=lambda error: error["index"])  # stable: one message's errors stay in order
    return {
        "success": True,
        "accepted": result["accepted"],
        "duplicates": result["duplicates"],
        "rejected": result["rejected"] + len(mapped.errors),
        "ignored": mapped.ignored,
        "errors": errors,
    }
