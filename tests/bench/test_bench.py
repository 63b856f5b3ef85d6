"""Smoke tests of `make bench`'s parts: valid events, a working client, a rendered report.

No timing is asserted here: speed is measured by `make bench` itself (docs/performance.md).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from bench import load, report
from bench.ceiling import ceiling_rows
from bench.events import TOKEN, batch_body, make_events, session_ids
from ingestion.ddl import COPY_COLUMNS
from ingestion.services import events_validate
from ingestion.validation import Project

PROJECT = Project(public_id="proj_bench", slug="bench")


@pytest.mark.parametrize("count", [1, 100, 1000])
def test_bench_batches_pass_the_apps_validator(count):
    events = make_events(
        count=count,
        project_public_id="proj_bench",
        sessions=session_ids(prefix="t", count=5),
        seed=1,
    )
    decoded = json.loads(batch_body(events).replace(TOKEN.encode(), b"x" * len(TOKEN)))
    now = datetime.now(UTC)
    valid, errors = events_validate(events=decoded["events"], project=PROJECT, received_at=now)
    assert errors == []
    assert len(valid) == count
    assert len({event.event_id for event in valid}) == count
    assert all(event.timestamp.month == now.month for event in valid)


def test_ceiling_rows_have_the_write_paths_layout_and_unique_ids():
    rows = ceiling_rows(
        count=2500, batch=1000, org_id=7, project_id=9, public_id="proj_bench", slug="bench"
    )
    assert len(rows) == 2500
    assert all(len(row) == len(COPY_COLUMNS) for row in rows)
    event_ids = [row[COPY_COLUMNS.index("event_id")] for row in rows]
    assert len(set(event_ids)) == 2500
    assert {row[COPY_COLUMNS.index("org_id")] for row in rows} == {7}


class _Ingest(BaseHTTPRequestHandler):
    """Answers like POST /v1/events; every other response closes the connection."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[str]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ids = [event["event_id"] for event in body["events"]]
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
    assert summary["non_202"] == 0 and summary["transport_errors"] == 0
    assert summary["events_per_s"] > 0
    assert len(_Ingest.seen) == len(set(_Ingest.seen))
    assert summary["mode"] == ("paced" if rate else "closed")


def test_percentile_is_nearest_rank():
    values = [float(value) for value in range(1, 101)]
    assert load.percentile(values, 0.50) == 50.0
    assert load.percentile(values, 0.99) == 99.0
    assert load.percentile([], 0.99) == 0.0


def _phase(name: str, batch: int, mode: str, events: float, p99: float) -> dict[str, Any]:
    return {
        "name": name,
        "batch": batch,
        "mode": mode,
        "events_per_s": events,
        "requests_per_s": events / batch,
        "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": p99, "max": p99, "mean": 1.0},
        "statuses": {"202": 10},
        "non_202": 0,
        "transport_errors": 0,
        "rejected": 0,
        "duplicates": 0,
        "first_error": "",
        "worker_peak_rss_mb": [80.0, 81.0],
        "cpu_cores": {"app_workers": 1.0, "postgres": 0.5, "load_generator": 0.1, "machine": 1.8},
    }


def test_report_checks_the_targets_and_renders_the_page():
    results: dict[str, Any] = {
        "date": "2026-01-01 00:00 UTC",
        "command": "make bench",
        "commit": "abc1234",
        "machine": {
            "cpus": 2,
            "cpu_model": "Test CPU",
            "ram_gib": 8.0,
            "kernel": "6.1",
            "python": "3.11.7",
            "postgresql": "16.2",
            "django": "5.2",
            "gunicorn": "23.0",
            "psycopg": "3.2",
            "load_average_before": [0.1, 0.1, 0.1],
        },
        "server": {
            "command": "gunicorn productgraph.wsgi",
            "settings": "config.settings.production",
            "workers": 4,
            "worker_class": "sync",
            "conn_max_age": 60,
        },
        "load": {"clients": 8, "duration_s": 20.0, "warmup_s": 3.0},
        "phases": [
            _phase("1000 per batch", 1000, "closed", 30_000.0, 400.0),
            _phase("100 per batch at half the max rate", 100, "paced", 5_000.0, 150.0),
        ],
        "ceiling": {
            "rows": 1000,
            "rows_per_s": 50_000.0,
            "per_batch": {"batch": 1000, "rows_per_s": 40_000.0},
        },
        "memory": {"peak_rss_mb_per_worker": [80.0, 81.0], "soak": None},
    }
    results["ratio"] = report.ratio(results)
    results["targets"] = report.targets(results)
    assert results["ratio"] == 0.6
    assert [target["passed"] for target in results["targets"]] == [True, False, None]
    page = report.markdown(results)
    assert page.startswith("# Performance")
    assert "| 1000 per batch | 1,000 | 30,000 |" in page
    assert "MISSED" in page
    assert "p99" in report.text(results)
