"""`python -m bench.journeys`' knobs and its timing helper (no database here)."""

from __future__ import annotations

import pytest

from bench import journeys


def test_options_default_to_100000_sessions_loaded_afresh_and_dropped(monkeypatch):
    for name in ("BENCH_JOURNEY_SESSIONS", "BENCH_JOURNEY_KEEP", "BENCH_JOURNEY_REUSE"):
        monkeypatch.delenv(name, raising=False)
    assert journeys.options() == {"sessions": 100_000, "keep": False, "reuse": False}


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"BENCH_JOURNEY_SESSIONS": "2000"}, (2000, False, False)),
        ({"BENCH_JOURNEY_SESSIONS": ""}, (100_000, False, False)),
        ({"BENCH_JOURNEY_SESSIONS": "0"}, (1, False, False)),
        ({"BENCH_JOURNEY_KEEP": "1", "BENCH_JOURNEY_REUSE": "1"}, (100_000, True, True)),
        ({"BENCH_JOURNEY_KEEP": "0", "BENCH_JOURNEY_REUSE": "yes"}, (100_000, False, False)),
    ],
)
def test_options_read_the_environment(monkeypatch, environment, expected):
    for name in ("BENCH_JOURNEY_SESSIONS", "BENCH_JOURNEY_KEEP", "BENCH_JOURNEY_REUSE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert journeys.options() == dict(zip(("sessions", "keep", "reuse"), expected, strict=True))


def test_timed_returns_the_result_with_seconds_cpu_and_load_averages(monkeypatch):
    monkeypatch.setattr(journeys, "_backend", lambda: None)  # no PostgreSQL backend here
    result, timing = journeys._timed(lambda: sum(range(100_000)))
    assert result == sum(range(100_000))
    assert timing["seconds"] >= 0
    assert timing["cpu_s"]["client"] >= 0
    assert timing["cpu_s"]["postgres"] is None
    assert len(timing["load_average_before"]) == len(timing["load_average_after"]) == 3
