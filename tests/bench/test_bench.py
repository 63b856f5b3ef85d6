"""Smoke tests of `make bench`'s parts: valid events, a working client, the session watch's
arithmetic, the CPU split. No timing is asserted: speed is `make bench`'s (performance.md)."""

from __future__ import annotations

import json
import math
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bench import load, sessions
from bench.ceiling import ceiling_rows
from bench.database import COLUMNS, JOURNEYS, journey_steps
from bench.events import (
    SESSION_TOKEN,
    SESSION_TOKEN_BYTES,
    TOKEN,
    TOKEN_BYTES,
    batch_body,
    make_batches,
    make_events,
)
from bench.server import CeleryWorker, Sample, cores_used
from ingestion.ddl import COPY_COLUMNS
from ingestion.services import events_validate
from ingestion.validation import Project
from journeys.definitions import parse_definition
from orgs.models import Organization

PROJECT = Project(public_id="proj_bench", slug="bench")
# The bench org's retention (the default): the bench's events must all be inside it.
RETENTION_DAYS = Organization._meta.get_field("retention_days").default


def _sent(events: list[dict[str, Any]], *, request: int = 0, passes: int = 0) -> list[dict]:
    body = batch_body(events).replace(TOKEN_BYTES, f"{request:020x}".encode())
    return json.loads(body.replace(SESSION_TOKEN_BYTES, f"{passes:018x}".encode()))["events"]


@pytest.mark.parametrize("count", [1, 100, 1000])
def test_bench_batches_pass_the_apps_validator(count):
    events = make_events(count=count, project_public_id="proj_bench", seed=1)
    body = batch_body(events)
    assert body.count(TOKEN.encode()) == count
    assert body.count(SESSION_TOKEN.encode()) == count
    now = datetime.now(UTC)
    valid, errors = events_validate(
        events=_sent(events), project=PROJECT, received_at=now, retention_days=RETENTION_DAYS
    )
    assert errors == []
    assert len(valid) == count
    assert len({event.event_id for event in valid}) == count
    assert all(event.timestamp.month == now.month for event in valid)
    assert all(event.timestamp <= now for event in valid)


def test_visits_span_consecutive_batches_and_each_pass_has_new_sessions():
    batches = make_batches(sizes=[1], project_public_id="proj_bench", seed=3, min_events=300)
    assert len(batches) == 300
    assert all(len(batch.events) == 1 for batch in batches)
    order = [batch.events[0]["session.id"] for batch in batches]
    runs = [
        session for index, session in enumerate(order) if index == 0 or order[index - 1] != session
    ]
    assert len(runs) == len(set(runs)) > 3  # each visit's events are consecutive
    per_session: dict[str, list[int]] = defaultdict(list)
    for batch in batches:
        per_session[batch.events[0]["session.id"]].append(batch.events[0]["event.sequence"])
    assert all(sequences == sorted(sequences) for sequences in per_session.values())
    first = _sent(batches[0].events, passes=0)[0]["session.id"]
    second = _sent(batches[0].events, passes=1)[0]["session.id"]
    assert first != second
    assert all("Mozilla/5.0" in batch.user_agent for batch in batches)


def test_mixed_sizes_repeat_in_turn():
    batches = make_batches(
        sizes=[1, 100, 1000], project_public_id="proj_bench", seed=1, min_events=2000
    )
    assert [len(batch.events) for batch in batches] == [1, 100, 1000] * 2


def test_timestamps_never_fall_before_the_current_month():
    now = datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC)
    events = make_events(count=1000, project_public_id="proj_bench", seed=2, now=now)
    stamps = [datetime.fromisoformat(event["event.timestamp"]) for event in events]
    assert min(stamps) == datetime(2026, 12, 1, tzinfo=UTC)
    assert max(stamps) <= now
    assert min(stamps) < now - timedelta(seconds=4)  # the visits' own times survive


def test_ceiling_rows_have_the_write_paths_layout_and_unique_ids():
    assert COLUMNS == COPY_COLUMNS  # bench lays rows out as ingestion.writer COPYs them
    rows = ceiling_rows(
        count=2500, batch=1000, org_id=7, project_id=9, public_id="proj_bench", slug="bench"
    )
    assert len(rows) == 2500
    assert all(len(row) == len(COPY_COLUMNS) for row in rows)
    event_ids = [row[COPY_COLUMNS.index("event_id")] for row in rows]
    assert len(set(event_ids)) == 2500
    session_ids = {row[COPY_COLUMNS.index("session_id")] for row in rows}
    assert not any(SESSION_TOKEN in session for session in session_ids)
    assert 2500 / 80 < len(session_ids) < 2500 / 10
    assert {row[COPY_COLUMNS.index("org_id")] for row in rows} == {7}


class _Ingest(BaseHTTPRequestHandler):
    """Answers like POST /v1/events; every other response closes the connection."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[str]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ids = [event["event_id"] for event in body["events"]]
        if any(SESSION_TOKEN in event["session.id"] for event in body["events"]):
            ids = []  # the test sees fewer events than were answered
        with self.lock:
            self.seen.extend(ids)
            close = len(self.seen) % 2 == 0
        answer = json.dumps(
            {"accepted": len(ids), "duplicates": 0, "rejected": 0, "errors": []}
        ).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("rate", [0.0, 200.0])
def test_load_generator_sends_unique_events_and_stops_by_itself(rate):
    _Ingest.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ingest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        args = load.parser().parse_args(
            [
                f"--port={server.server_address[1]}",
                "--key=pk_test",
                "--project=proj_bench",
                "--batch=1,10",
                "--clients=2",
                "--duration=0.5",
                "--warmup=0.1",
                f"--rate={rate}",
            ]
        )
        summary = load.run(args)
    finally:
        server.shutdown()
        server.server_close()
    assert summary["requests"] > 0
    assert summary["non_success"] == 0 and summary["transport_errors"] == 0
    assert summary["events_per_s"] > 0
    assert summary["events_stored_total"] == len(_Ingest.seen)
    assert len(_Ingest.seen) == len(set(_Ingest.seen))
    assert summary["mode"] == ("paced" if rate else "closed")


def test_percentile_is_nearest_rank():
    values = [float(value) for value in range(1, 101)]
    assert load.percentile(values, 0.50) == 50.0
    assert load.percentile(values, 0.99) == 99.0
    assert load.percentile([], 0.99) == 0.0
    assert load.percentile([math.inf, 1.0], 0.5) == 1.0


def test_lag_summary_counts_markers_never_seen_as_slower_than_the_bound():
    markers = [
        sessions.Marker(session_id=f"s{index}", phase="p", acked_at=0.0, seen_at=index / 10)
        for index in range(1, 21)
    ]
    summary = sessions.lag_summary(markers, bound=60.0)
    assert (summary["p50"], summary["p95"], summary["max"]) == (1.0, 1.9, 2.0)
    markers.append(sessions.Marker(session_id="late", phase="p", acked_at=0.0))
    summary = sessions.lag_summary(markers, bound=60.0)
    assert summary["not_caught_up"] == 1
    assert summary["p95"] == 2.0 and summary["max"] is None
    empty = sessions.lag_summary([], bound=60.0)
    assert (empty["markers"], empty["p50"], empty["p95"], empty["max"]) == (0, None, None, None)


def _reading(at: float, folded: int, marks: int = 0, rows_read: int = 0) -> sessions.Reading:
    return sessions.Reading(at=at, folded=folded, marks=marks, rows_read=rows_read)


def test_phase_sessions_measures_folding_backlog_and_catch_up():
    readings = [
        _reading(0.0, 0),
        _reading(10.0, 90_000, marks=50, rows_read=120_000),
        _reading(11.0, 95_000, marks=40, rows_read=130_000),
        _reading(14.0, 100_000, marks=0, rows_read=140_000),
    ]
    assert sessions.value_at(readings, 5.0, "folded") == 45_000.0
    assert sessions.value_at(readings, -1.0, "folded") == 0.0
    assert sessions.value_at(readings, 99.0, "folded") == 100_000.0
    result = sessions.phase_sessions(
        markers=[],
        readings=readings,
        window=(0.0, 10.0),
        stopped=11.0,
        ended=14.5,
        drained=3.0,
        bound=60.0,
        expected=100_000,
        cpu={"celery": 0.5, "postgres_celery": 0.5},
    )
    assert result["folded_events_per_s"] == 9_000.0
    assert result["backlog_at_stop"] == {"events": 5_000, "marks": 40}
    assert result["catch_up_events_per_s"] == round(5_000 / 3.0, 1)
    assert result["folded_per_cpu_s"] == round(100_000 / 14.5, 1)
    assert result["rows_read_per_event"] == 1.4
    assert result["kept_up"] is True
    behind = sessions.phase_sessions(
        markers=[],
        readings=readings[:3],
        window=(0.0, 10.0),
        stopped=10.0,
        ended=11.0,
        drained=None,
        bound=1.0,
        expected=100_000,
        cpu={},
    )
    assert behind["left_at_bound"] == {"events": 5_000, "marks": 40}
    assert behind["kept_up"] is False and behind["folded_per_cpu_s"] is None


def test_drain_returns_the_first_reading_that_caught_up():
    watch = sessions.SessionWatch(
        port=1,
        key="k",
        project_public_id="proj_bench",
        org_id=1,
        project_id=1,
        database_url="postgresql:///unused",
        redis_url="unix:///unused",
    )
    watch.readings += [_reading(9.0, 100), _reading(11.0, 150, marks=1), _reading(12.5, 150)]
    assert watch.drain(stored=150, since=10.0, bound=60.0) == 2.5
    assert watch.drain(stored=150, since=10.0, bound=2.0) is None
    assert watch.drain(stored=200, since=10.0, bound=-1.0) is None


def test_cpu_split_between_gunicorn_and_celery_backends():
    first = Sample(at=0.0, workers={1: 0.0}, postgres={10: 0.0, 11: 0.0, 12: 0.0}, machine_busy=0.0)
    last = Sample(
        at=2.0,
        workers={1: 2.0},
        postgres={10: 1.0, 11: 0.5, 12: 0.2},
        machine_busy=4.0,
        celery={5: 0.6},
    )
    used = cores_used([first, last], celery_backends={11}, ignored_backends={12})
    assert used == {
        "app_workers": 1.0,
        "postgres": 0.5,
        "celery": 0.3,
        "postgres_celery": 0.25,
        "machine": 2.0,
    }
    unknown = cores_used([first, Sample(at=1.0, workers={}, postgres=None, machine_busy=1.0)])
    assert unknown["postgres"] is None and unknown["postgres_celery"] is None


def test_celery_worker_command_is_the_procfiles_with_quiet_logs():
    worker = CeleryWorker(concurrency=2, env={}, log_path=Path("/tmp/unused.log"))  # noqa: S108
    command = worker.command()
    assert command[1:6] == ["-m", "celery", "-A", "productgraph", "worker"]
    assert command[command.index("--concurrency") + 1] == "2"
    assert command[command.index("--loglevel") + 1] == "WARNING"
    worker.stop()  # never started: nothing to do


def test_bench_journeys_are_valid_definitions_the_generator_walks():
    for key, _, steps in JOURNEYS:
        definition = parse_definition(
            key=key, entry=[], steps=journey_steps(steps), exit=[], timeout_minutes=30
        )
        assert [step.id for step in definition.steps] == [step[0] for step in steps]
    paths = {
        event.get("page.path")
        for event in make_events(count=5000, project_public_id="proj_bench", seed=4)
    }
    assert {steps[0][2] for _, _, steps in JOURNEYS} <= paths
