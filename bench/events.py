"""Event batches for the load generator, the probe and the ceiling (no Django): the generator's
shop visits, end to end per client, cut into batches of the exact size. A batch is a template:
event ids start with `TOKEN`, session ids with `SESSION_TOKEN`, swapped per request and per
pass. Timestamps end at build time, never before the current month (no partition is made)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingestion.generator import simulate_session

TOKEN = "@" * 20  # never produced by the generator or by the JSON encoding of its values
TOKEN_BYTES = TOKEN.encode()
SESSION_TOKEN = "~" * 18  # likewise; replaced once per pass over a client's templates
SESSION_TOKEN_BYTES = SESSION_TOKEN.encode()
_POPULATION = 100_000  # visits per simulated population: user ids repeat across a quarter


@dataclass(frozen=True)
class Batch:
    """One request's events and the User-Agent it is sent with (its first visit's)."""

    user_agent: str
    events: list[dict[str, Any]]


def visit(
    *, seed: int, index: int, project_public_id: str, session_id: str, now: datetime
) -> tuple[str, list[dict[str, Any]]]:
    """Visit number `index` ending at `now`, as `session_id`: its User-Agent and events
    (timestamps before the current month moved to its first millisecond, order kept)."""
    agent, events = simulate_session(
        seed=seed, index=index, sessions=_POPULATION, now_ms=int(now.timestamp() * 1000),
        window_ms=1, project_id=project_public_id,
    )  # fmt: skip
    month = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    floor = month.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for event in events:
        event["session.id"] = session_id
        event["event.timestamp"] = max(event["event.timestamp"], floor)  # same format
    return agent, events


def make_batches(*, sizes: Sequence[int], project_public_id: str, seed: int, min_events: int = 0,
                 now: datetime | None = None) -> list[Batch]:  # fmt: skip
    """One client's visits cut into batches of `sizes[0]`, `sizes[1]`, ... events in turn,
    until they hold `min_events` and every size was used as often; ids `TOKEN-<position>`."""
    if not sizes or min(sizes) < 1:
        raise ValueError("batch sizes must be >= 1")
    now = now or datetime.now(UTC)

    def stream():  # (User-Agent, event) of visit 0, 1, 2, ..., session ids tokenized
        index = 0
        while True:
            session_id = f"sess_{SESSION_TOKEN}{index:06x}"
            agent, events = visit(seed=seed, index=index, project_public_id=project_public_id,
                                  session_id=session_id, now=now)  # fmt: skip
            yield from ((agent, event) for event in events)
            index += 1

    events_of = stream()
    batches: list[Batch] = []
    total = 0
    while total < max(1, min_events) or len(batches) % len(sizes):
        size = sizes[len(batches) % len(sizes)]
        taken = [next(events_of) for _ in range(size)]
        for position, (_, event) in enumerate(taken):
            event["event_id"] = f"{TOKEN}-{position:04d}"
        batches.append(Batch(user_agent=taken[0][0], events=[event for _, event in taken]))
        total += size
    return batches


def make_events(
    *, count: int, project_public_id: str, seed: int, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One batch of `count` events."""
    batch = make_batches(sizes=[count], project_public_id=project_public_id, seed=seed, now=now)
    return batch[0].events


def batch_body(events: list[dict[str, Any]]) -> bytes:
    """The request body `{"events": [...]}`, compact JSON."""
    return json.dumps({"events": events}, separators=(",", ":"), ensure_ascii=False).encode()
