"""Session aggregation under load, watched from outside the app: lag and fold throughput.

While an ingestion phase runs, `SessionWatch` posts a marker every `probe_interval` s: the
first `MARKER_EVENTS` events of a simulated visit under a session id of its own, sent to
gunicorn like any client's batch. It notes when the 202 arrived and polls the bench
database every `POLL_S` (as the runtime role, inside the org's context, as the app reads)
until `product_sessions_session` has that session with all its events: the marker's lag.

Every `interval` s it also reads how many events the project's session rows reflect (the
sum of `event_count`), the touched-session marks waiting in Redis, the Celery queue, the
rows the event partitions have handed to scans (nothing but the folds reads them during a
run) and which PostgreSQL backends serve the worker (by `application_name`).

After a phase, `drain()` waits (bounded) until the session rows reflect every stored event
and no marks are left. Every loop here is bounded or stops with `stop()`.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import redis

from bench.events import batch_body, visit

MARKER_EVENTS = 3
POLL_S = 0.1
LAG_TARGET_S = 10.0
CATCH_UP_MIN_S = 2.0
CELERY_APP_NAME = "productgraph-bench-celery"  # PGAPPNAME of the worker's connections
WATCH_APP_NAME = "productgraph-bench-watch"
CELERY_QUEUE = "celery"  # the default queue: a Redis list of that name
_SESSIONS = "product_sessions_session"
# The event table's partitions (ingestion_event_YYYYMM and the default one).
_PARTITIONS = r"^ingestion_event_([0-9]{6}|default)$"


@dataclass
class Marker:
    """One probe: its session, the phase it was sent in, when its 202 arrived and was seen."""

    session_id: str
    phase: str
    acked_at: float  # time.monotonic()
    seen_at: float | None = None  # start of the first poll that found all its events

    @property
    def lag(self) -> float | None:
        """Seconds from the 202 to the session reflecting the marker, None if never seen."""
        return None if self.seen_at is None else self.seen_at - self.acked_at


@dataclass(frozen=True)
class Reading:
    """What the session side looked like at one moment."""

    at: float  # time.monotonic()
    folded: int  # events the project's session rows reflect (sum of event_count)
    sessions: int  # session rows
    marks: int  # touched sessions waiting in Redis
    queued: int  # messages in the Celery queue (a countdown task is held by the worker)
    rows_read: int  # rows the event partitions handed to scans so far (the folds' reads)
    seq_rows_read: int = 0  # of which by sequential scans


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (inf counts as larger than everything); 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def lag_summary(markers: list[Marker], *, bound: float) -> dict[str, Any]:
    """p50/p95/max lag of the markers; one never seen counts as slower than `bound`."""
    lags = [marker.lag if marker.lag is not None else math.inf for marker in markers]

    def seconds(value: float) -> float | None:
        return None if math.isinf(value) or math.isnan(value) else round(value, 2)

    if not markers:
        lags = [math.nan]  # nothing measured: every figure None
    return {
        "markers": len(markers),
        "caught_up": sum(1 for marker in markers if marker.lag is not None),
        "not_caught_up": sum(1 for marker in markers if marker.lag is None),
        "bound_s": bound,
        "p50": seconds(percentile(lags, 0.50)),
        "p95": seconds(percentile(lags, 0.95)),
        "max": seconds(max(lags, default=0.0)),
    }


def value_at(readings: list[Reading], at: float, name: str) -> float | None:
    """`name` of the readings linearly interpolated at `at` (clamped to the first/last)."""
    if not readings:
        return None
    before = [reading for reading in readings if reading.at <= at]
    after = [reading for reading in readings if reading.at >= at]
    if not before:
        return float(getattr(after[0], name))
    if not after:
        return float(getattr(before[-1], name))
    first, last = before[-1], after[0]
    if last.at == first.at:
        return float(getattr(first, name))
    share = (at - first.at) / (last.at - first.at)
    return float(getattr(first, name) + share * (getattr(last, name) - getattr(first, name)))


@dataclass
class SessionWatch:
    """The probe and the watcher threads; `start()`, `probing(phase)`, `drain()`, `stop()`."""

    port: int
    key: str
    project_public_id: str
    org_id: int
    project_id: int
    database_url: str  # the runtime role's: reads go through RLS like the app's
    redis_url: str
    touched_keys: list[str]
    probe_interval: float = 0.5
    interval: float = 0.5
    markers: list[Marker] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    celery_backends: set[int] = field(default_factory=set)
    watch_backends: set[int] = field(default_factory=set)
    marker_events: int = 0  # events the markers stored
    probe_failures: int = 0
    errors: list[str] = field(default_factory=list)
    _phase: str | None = None
    _posting: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        """Start the watcher and the (idle) probe."""
        for target, name in ((self._watch, "session-watch"), (self._probe, "session-probe")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop both threads (idempotent)."""
        self._phase = None
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def probing(self, phase: str | None) -> None:
        """Send markers labelled `phase` from now on; None: stop (after the one in flight)."""
        self._phase = phase
        if phase is None:
            with self._posting:  # a marker being sent finishes (and is counted) first
                pass

    # The probe ---------------------------------------------------------------------------

    def _probe(self) -> None:
        run = os.urandom(3).hex()
        number = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            with self._posting:
                phase = self._phase
                if phase is not None:
                    self._send(phase, f"{run}-{number:06d}", number)
                    number += 1
            next_at = max(next_at + self.probe_interval, time.monotonic())
            self._stop.wait(next_at - time.monotonic())

    def _send(self, phase: str, name: str, number: int) -> None:
        session_id = f"sess_probe-{name}"
        agent, events = visit(
            seed=0x5E55,
            index=number,
            project_public_id=self.project_public_id,
            session_id=session_id,
            now=datetime.now(UTC),
        )
        events = events[:MARKER_EVENTS]
        for position, event in enumerate(events):
            event["event_id"] = f"probe-{name}-{position}"
        body = batch_body(events)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(
                "POST",
                "/v1/events",
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "X-PG-API-Key": self.key,
                    "User-Agent": agent,
                },
            )
            response = connection.getresponse()
            answer = response.read()
            acked_at = time.monotonic()
        except OSError as exc:
            self._fail(f"probe: {type(exc).__name__}: {exc}")
            return
        finally:
            connection.close()
        stored = 0
        if response.status == 202:
            try:
                reply = json.loads(answer)
                stored = reply["accepted"] - reply["duplicates"]
            except (ValueError, KeyError, TypeError):
                stored = 0
        self.marker_events += stored
        if stored != len(events):
            self._fail(f"probe: HTTP {response.status}: {answer[:200]!r}")
            return
        self.markers.append(Marker(session_id=session_id, phase=phase, acked_at=acked_at))

    def _fail(self, message: str) -> None:
        self.probe_failures += 1
        if len(self.errors) < 5:
            self.errors.append(message)

    # The watcher -------------------------------------------------------------------------

    def _watch(self) -> None:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        try:
            database = psycopg.connect(
                self.database_url, autocommit=True, application_name=WATCH_APP_NAME
            )
        except psycopg.Error as exc:
            self.errors.append(f"watch: cannot connect: {exc}")  # drains then time out
            client.close()
            return
        try:
            with database:
                self.watch_backends.add(database.info.backend_pid)
                next_reading = 0.0
                while not self._stop.is_set():
                    started = time.monotonic()
                    try:
                        self._poll_markers(database, started)
                        if started >= next_reading:
                            self.readings.append(self._read(database, client, started))
                            next_reading = started + self.interval
                    except (psycopg.Error, redis.RedisError) as exc:
                        if len(self.errors) < 5:
                            self.errors.append(f"watch: {type(exc).__name__}: {exc}")
                    self._stop.wait(max(0.0, POLL_S - (time.monotonic() - started)))
        finally:
            client.close()

    def _poll_markers(self, database: psycopg.Connection, started: float) -> None:
        pending = [marker for marker in list(self.markers) if marker.seen_at is None]
        if not pending:
            return
        with database.transaction():
            self._enter_org(database)
            found: dict[str, int] = dict(
                database.execute(
                    f"SELECT session_id, event_count FROM {_SESSIONS} "  # noqa: S608 - constant
                    "WHERE project_id = %s AND session_id = ANY(%s)",
                    [self.project_id, [marker.session_id for marker in pending]],
                ).fetchall()
            )
        for marker in pending:
            if found.get(marker.session_id, 0) >= MARKER_EVENTS:
                marker.seen_at = started

    def _read(self, database: psycopg.Connection, client: redis.Redis, at: float) -> Reading:
        with database.transaction():
            self._enter_org(database)
            folded, sessions = database.execute(
                f"SELECT coalesce(sum(event_count), 0), count(*) FROM {_SESSIONS} "  # noqa: S608
                "WHERE project_id = %s",
                [self.project_id],
            ).fetchone() or (0, 0)
            read, seq_read = database.execute(
                "SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0), "
                "coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables WHERE relname ~ %s",
                [_PARTITIONS],
            ).fetchone() or (0, 0)
            backends = database.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = %s",
                [CELERY_APP_NAME],
            ).fetchall()
        self.celery_backends.update(pid for (pid,) in backends)
        pipeline = client.pipeline()
        for key in self.touched_keys:
            pipeline.scard(key)
        pipeline.llen(CELERY_QUEUE)
        *shard_marks, queued = pipeline.execute()
        marks = sum(shard_marks)
        return Reading(
            at=at,
            folded=int(folded),
            sessions=int(sessions),
            marks=int(marks),
            queued=int(queued),
            rows_read=int(read),
            seq_rows_read=int(seq_read),
        )

    def _enter_org(self, database: psycopg.Connection) -> None:
        database.execute("SELECT set_config('app.current_org_id', %s, true)", [str(self.org_id)])

    # After a phase ------------------------------------------------------------------------

    def latest(self) -> Reading | None:
        """The last reading, if any."""
        return self.readings[-1] if self.readings else None

    def drain(self, *, stored: int, since: float, bound: float) -> float | None:
        """Wait until the sessions reflect `stored` events and no marks are left.

        Return the seconds from `since` (when the load stopped) to the first reading that
        showed it, or None if none did within `bound` s of `since`.
        """
        while not self._stop.is_set():
            done = next(
                (
                    reading
                    for reading in list(self.readings)
                    if reading.at >= since and reading.folded >= stored and reading.marks == 0
                ),
                None,
            )
            if done is not None:
                elapsed = done.at - since
                return round(elapsed, 2) if elapsed <= bound else None
            if time.monotonic() - since > bound + self.interval:
                return None
            self._stop.wait(self.interval / 2)
        return None


def phase_sessions(
    *,
    markers: list[Marker],
    readings: list[Reading],
    window: tuple[float, float],
    stopped: float,
    ended: float,
    drained: float | None,
    bound: float,
    expected: int,
    cpu: dict[str, float | None],
) -> dict[str, Any]:
    """A phase's session numbers, from the watch's readings and the sampler's CPU.

    `window`: the load's measured seconds; `stopped`: when the load ended; `ended`: when the
    drain ended; `expected`: the events stored by then (the sessions' target); `cpu`: cores
    used from the window's start to `ended`.
    """
    start, end = window

    def at(moment: float, name: str) -> float:
        return value_at(readings, moment, name) or 0.0

    last = readings[-1] if readings else None
    backlog = max(0, round(expected - at(stopped, "folded")))
    # What was left when the bound ran out (a reading just after it may show none left).
    left = max(0, round(expected - at(stopped + bound, "folded")))
    folded_total = (last.folded if last is not None else 0) - at(start, "folded")
    read_total = (last.rows_read if last is not None else 0) - at(start, "rows_read")
    seq_total = (last.seq_rows_read if last is not None else 0) - at(start, "seq_rows_read")
    fold_cores = None
    if cpu.get("celery") is not None and cpu.get("postgres_celery") is not None:
        fold_cores = (cpu["celery"] or 0.0) + (cpu["postgres_celery"] or 0.0)
    fold_cpu_s = fold_cores * (ended - start) if fold_cores is not None else None
    # The rate a backlog was worked off at, once there was one worth the name (a drain
    # shorter than CATCH_UP_MIN_S is mostly the 1 s debounce and the 0.5 s readings).
    catch_up = None
    if drained is None and bound > 0:
        catch_up = round((backlog - left) / bound, 1)
    elif drained is not None and drained >= CATCH_UP_MIN_S:
        catch_up = round(backlog / drained, 1)
    return {
        "lag_s": lag_summary(markers, bound=bound),
        "folded_events_per_s": round((at(end, "folded") - at(start, "folded")) / (end - start), 1),
        "backlog_at_stop": {"events": backlog, "marks": round(at(stopped, "marks"))},
        "drain_s": drained,
        "drain_bound_s": bound,
        "left_at_bound": (
            None
            if drained is not None
            else {"events": left, "marks": round(at(stopped + bound, "marks"))}
        ),
        "catch_up_events_per_s": catch_up,
        "cores": {"celery": cpu.get("celery"), "postgres_celery": cpu.get("postgres_celery")},
        "folded_per_cpu_s": (
            round(folded_total / fold_cpu_s, 1) if fold_cpu_s and folded_total > 0 else None
        ),
        "rows_read_per_event": (round(read_total / folded_total, 2) if folded_total > 0 else None),
        "rows_read_by_seq_scans": round(seq_total / read_total, 3) if read_total > 0 else None,
        "kept_up": drained is not None and drained <= LAG_TARGET_S,
    }
