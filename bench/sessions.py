"""Session aggregation under load, watched from outside: a probe posts marker visits and polls
their session rows (the lag from the 202); a watcher reads the folded events, the marks left
in Redis, the rows the folds read and the worker's backends (docs/performance.md, step 4)."""

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

import bench.app  # noqa: F401 - Django set up before the model below
from bench.events import batch_body, visit
from bench.load import percentile
from sessions.models import Session

MARKER_EVENTS = 3
POLL_S = 0.1
LAG_TARGET_S = 10.0
CATCH_UP_MIN_S = 2.0  # a shorter drain is mostly the 1 s debounce and the 0.5 s readings
CELERY_APP_NAME = "productgraph-bench-celery"  # PGAPPNAME of the worker's connections
WATCH_APP_NAME = "productgraph-bench-watch"
_SET_ORG = "SELECT set_config('app.current_org_id', %s, true)"
_PARTITIONS = r"^ingestion_event_([0-9]{6}|default)$"
_BACKENDS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s"
)


@dataclass
class Marker:
    """One probe: its session, its phase, when its 202 arrived and when it was seen."""

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
    marks: int  # touched sessions waiting in Redis
    rows_read: int  # rows the event partitions handed to scans so far (the folds' reads)
    seq_rows_read: int = 0  # of which by sequential scans


def lag_summary(markers: list[Marker], *, bound: float) -> dict[str, Any]:
    """p50/p95/max lag of the markers; one never seen counts as slower than `bound`."""
    lags = [m.lag if m.lag is not None else math.inf for m in markers] or [math.nan]

    def seconds(value: float) -> float | None:
        return None if math.isinf(value) or math.isnan(value) else round(value, 2)

    seen = sum(1 for marker in markers if marker.lag is not None)
    return {
        "markers": len(markers), "caught_up": seen, "not_caught_up": len(markers) - seen,
        "bound_s": bound, "p50": seconds(percentile(lags, 0.50)),
        "p95": seconds(percentile(lags, 0.95)), "max": seconds(max(lags)),
    }  # fmt: skip


def value_at(readings: list[Reading], at: float, name: str) -> float | None:
    """`name` of the readings linearly interpolated at `at` (clamped to the first/last)."""
    if not readings:
        return None
    before = [reading for reading in readings if reading.at <= at]
    after = [reading for reading in readings if reading.at >= at]
    first, last = (before or after)[-1 if before else 0], (after or before)[0 if after else -1]
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
        for target in (self._watch, self._probe):
            self._threads.append(threading.Thread(target=target, daemon=True))
            self._threads[-1].start()

    def stop(self) -> None:
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

    def _probe(self) -> None:
        run, number, next_at = os.urandom(3).hex(), 0, time.monotonic()
        while not self._stop.is_set():
            with self._posting:
                if (phase := self._phase) is not None:
                    self._send(phase, f"{run}-{number:06d}", number)
                    number += 1
            next_at = max(next_at + self.probe_interval, time.monotonic())
            self._stop.wait(next_at - time.monotonic())

    def _send(self, phase: str, name: str, number: int) -> None:
        session_id = f"sess_probe-{name}"
        agent, events = visit(seed=0x5E55, index=number, project_public_id=self.project_public_id,
                              session_id=session_id, now=datetime.now(UTC))  # fmt: skip
        events = events[:MARKER_EVENTS]
        for position, event in enumerate(events):
            event["event_id"] = f"probe-{name}-{position}"
        headers = {"Content-Type": "application/json", "X-PG-API-Key": self.key}
        headers["User-Agent"] = agent
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("POST", "/v1/events", body=batch_body(events), headers=headers)
            response = connection.getresponse()
            answer = response.read()
            acked_at = time.monotonic()
        except OSError as exc:
            self._fail(f"probe: {type(exc).__name__}: {exc}")
            return
        finally:
            connection.close()
        try:
            reply = json.loads(answer) if response.status == 202 else {}
            stored = reply["accepted"] - reply["duplicates"] if reply else 0
        except (ValueError, KeyError, TypeError):
            stored = 0
        self.marker_events += stored
        if stored != len(events):
            self._fail(f"probe: HTTP {response.status}: {answer[:200]!r}")
        else:
            self.markers.append(Marker(session_id=session_id, phase=phase, acked_at=acked_at))

    def _fail(self, message: str) -> None:
        self.probe_failures += 1
        if len(self.errors) < 5:
            self.errors.append(message)

    def _watch(self) -> None:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        try:
            name = WATCH_APP_NAME
            database = psycopg.connect(self.database_url, autocommit=True, application_name=name)
        except psycopg.Error as exc:
            self.errors.append(f"watch: cannot connect: {exc}")  # drains then time out
            client.close()
            return
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
        client.close()

    def _query(self, database: psycopg.Connection, sql: str, params: list[Any]) -> list[Any]:
        with database.transaction():
            database.execute(_SET_ORG, [str(self.org_id)])
            return database.execute(sql, params).fetchall()

    def _poll_markers(self, database: psycopg.Connection, started: float) -> None:
        pending = [marker for marker in list(self.markers) if marker.seen_at is None]
        if pending:
            found = dict(self._query(database,
                f"SELECT session_id, event_count FROM {Session._meta.db_table} "  # noqa: S608
                "WHERE project_id = %s AND session_id = ANY(%s)",
                [self.project_id, [marker.session_id for marker in pending]]))  # fmt: skip
            for marker in pending:
                if found.get(marker.session_id, 0) >= MARKER_EVENTS:
                    marker.seen_at = started

    def _read(self, database: psycopg.Connection, client: redis.Redis, at: float) -> Reading:
        [(folded, read, seq_read)] = self._query(database,
            f"SELECT (SELECT coalesce(sum(event_count), 0) FROM {Session._meta.db_table} "  # noqa: S608
            "WHERE project_id = %s), coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0),"
            " coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables WHERE relname ~ %s",
            [self.project_id, _PARTITIONS])  # fmt: skip
        backends = self._query(database, _BACKENDS, [CELERY_APP_NAME])
        self.celery_backends.update(pid for (pid,) in backends)
        return Reading(at, int(folded), self.marks(client), int(read), int(seq_read))

    def marks(self, client: redis.Redis) -> int:
        """The touched-session marks of the project waiting in Redis: the fold queue's sets
        (one per shard), `<prefix>sessions:touched:<org>:<project>:<shard>`."""
        pattern = f"*sessions:touched:{self.org_id}:{self.project_id}:*"
        pipeline = client.pipeline()
        for key in client.scan_iter(match=pattern):
            pipeline.scard(key)
        return sum(pipeline.execute())

    def drain(self, *, stored: int, since: float, bound: float) -> float | None:
        """Wait until the sessions reflect `stored` events and no marks are left; return the
        seconds from `since` (the load's end) to the first reading that showed it, or None
        if none did within `bound` s."""
        while not self._stop.is_set():
            caught_up = [r for r in list(self.readings) if r.folded >= stored and r.marks == 0]
            done = next((reading for reading in caught_up if reading.at >= since), None)
            if done is not None:
                return round(done.at - since, 2) if done.at - since <= bound else None
            if time.monotonic() - since > bound + self.interval:
                return None
            self._stop.wait(self.interval / 2)
        return None


def phase_sessions(*, markers: list[Marker], readings: list[Reading], window: tuple[float, float],
                   stopped: float, ended: float, drained: float | None, bound: float, expected: int,
                   cpu: dict[str, float | None]) -> dict[str, Any]:  # fmt: skip
    """A phase's session numbers: `window` is the load's measured seconds, `stopped` when
    the load ended, `ended` when the drain did, `expected` the events stored by then, `cpu`
    the cores used from the window's start to `ended`."""
    start, end = window

    def at(moment: float, name: str) -> float:
        return value_at(readings, moment, name) or 0.0

    def since_start(name: str) -> float:
        return (getattr(readings[-1], name) if readings else 0) - at(start, name)

    backlog = max(0, round(expected - at(stopped, "folded")))
    # What was left when the bound ran out (a reading just after it may show none left).
    left = max(0, round(expected - at(stopped + bound, "folded")))
    folded, read, seq = map(since_start, ("folded", "rows_read", "seq_rows_read"))
    fold_cores = None
    if cpu.get("celery") is not None and cpu.get("postgres_celery") is not None:
        fold_cores = (cpu["celery"] or 0.0) + (cpu["postgres_celery"] or 0.0)
    fold_cpu_s = fold_cores * (ended - start) if fold_cores is not None else None
    catch_up = None  # the rate a backlog worth the name was worked off at
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
        "left_at_bound": None if drained is not None
        else {"events": left, "marks": round(at(stopped + bound, "marks"))},
        "catch_up_events_per_s": catch_up,
        "cores": {"celery": cpu.get("celery"), "postgres_celery": cpu.get("postgres_celery")},
        "folded_per_cpu_s": round(folded / fold_cpu_s, 1) if fold_cpu_s and folded > 0 else None,
        "rows_read_per_event": round(read / folded, 2) if folded > 0 else None,
        "rows_read_by_seq_scans": round(seq / read, 3) if read > 0 else None,
        "kept_up": drained is not None and drained <= LAG_TARGET_S,
    }  # fmt: skip
