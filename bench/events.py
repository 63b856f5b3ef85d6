"""Realistic event batches for the load generator, the session probe and the COPY ceiling.

The events are `ingestion.generator`'s simulated visits to a web shop (page views and their
`page.leave`, web vitals, clicks, scrolls, API calls, journeys, errors; a User-Agent per
visit), the same as `generate_events` makes, laid end to end in one stream per client and
cut into batches of exactly the requested size: a visit longer than what is left of a batch
goes on in the next one, so sessions span requests as they do when a browser sends its
events in several batches. Every visit ends at the time the batches are built (timestamps
in the last minutes, never before the current month: the write path never has to create a
partition during a run).

Nothing here imports Django (`ingestion.generator` is pure): the load generator imports
this module and nothing else of the app. A batch is built once as a template whose event
ids all start with `TOKEN` and whose session ids all start with `SESSION_TOKEN`; each
request replaces the first with a fresh token of the same length and the second with one
per pass over the templates (`bytes.replace`), so every event id is unique, each pass sends
new sessions, and building a request costs microseconds, not a JSON encoding.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingestion.generator import simulate_session

TOKEN = "@" * 20  # never produced by the generator or by JSON encoding of its values
TOKEN_BYTES = TOKEN.encode()
SESSION_TOKEN = "~" * 18  # likewise; replaced once per pass over a client's templates
SESSION_TOKEN_BYTES = SESSION_TOKEN.encode()
# Visits per simulated population: `user.id`s repeat across about a quarter of them.
_POPULATION = 100_000


@dataclass(frozen=True)
class Batch:
    """One request's events and the User-Agent it is sent with (its first visit's)."""

    user_agent: str
    events: list[dict[str, Any]]


def _month_start_iso(now: datetime) -> str:
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def visit(
    *, seed: int, index: int, project_public_id: str, session_id: str, now: datetime
) -> tuple[str, list[dict[str, Any]]]:
    """Simulated visit number `index`: its User-Agent and events, ending at `now`.

    The session id is `session_id`; event ids are left to the caller. Timestamps before
    the current month are moved to its first millisecond (the event order stays).
    """
    agent, events = simulate_session(
        seed=seed,
        index=index,
        sessions=_POPULATION,
        now_ms=int(now.timestamp() * 1000),
        window_ms=1,  # the whole visit ends at `now`
        project_id=project_public_id,
    )
    floor = _month_start_iso(now)
    for event in events:
        event["session.id"] = session_id
        if event["event.timestamp"] < floor:  # same format: text order is time order
            event["event.timestamp"] = floor
    return agent, events


def _stream(
    *, seed: int, project_public_id: str, now: datetime
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(User-Agent, event) of visit 0, 1, 2, ... of one client, session ids tokenized."""
    index = 0
    while True:
        agent, events = visit(
            seed=seed,
            index=index,
            project_public_id=project_public_id,
            session_id=f"sess_{SESSION_TOKEN}{index:06x}",
            now=now,
        )
        for event in events:
            yield agent, event
        index += 1


def make_batches(
    *,
    sizes: Sequence[int],
    project_public_id: str,
    seed: int,
    min_events: int = 0,
    now: datetime | None = None,
) -> list[Batch]:
    """Cut one client's stream of visits into batches of `sizes[0]`, `sizes[1]`, ... events.

    The sizes repeat in turn until the batches hold at least `min_events` events and each
    size has been used equally often. Within a batch, event ids are `TOKEN-<position>`.
    """
    if not sizes or min(sizes) < 1:
        raise ValueError("batch sizes must be >= 1")
    stream = _stream(seed=seed, project_public_id=project_public_id, now=now or datetime.now(UTC))
    batches: list[Batch] = []
    total = 0
    while total < max(1, min_events) or len(batches) % len(sizes):
        size = sizes[len(batches) % len(sizes)]
        agent = ""
        events = []
        for position in range(size):
            event_agent, event = next(stream)
            agent = agent or event_agent
            event["event_id"] = f"{TOKEN}-{position:04d}"
            events.append(event)
        batches.append(Batch(user_agent=agent, events=events))
        total += size
    return batches


def make_events(
    *, count: int, project_public_id: str, seed: int, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One batch of `count` events (ids `TOKEN-<position>`, session ids `sess_<SESSION_TOKEN>…`)."""
    return make_batches(sizes=[count], project_public_id=project_public_id, seed=seed, now=now)[
        0
    ].events


def batch_body(events: list[dict[str, Any]]) -> bytes:
    """Return the request body `{"events": [...]}`, compact JSON."""
    return json.dumps({"events": events}, separators=(",", ":"), ensure_ascii=False).encode()


def untokenized(body: bytes, *, event_token: str, session_token: str) -> bytes:
    """A template body with both tokens replaced (what one request sends)."""
    return body.replace(TOKEN_BYTES, event_token.encode()).replace(
        SESSION_TOKEN_BYTES, session_token.encode()
    )
