"""`python -m bench.journeys`' timing helper (no database here)."""

from __future__ import annotations

from bench import journeys


def test_timed_returns_the_result_with_seconds_cpu_and_load_averages(monkeypatch):
    monkeypatch.setattr(journeys, "_backend", lambda: None)  # no PostgreSQL backend here
    result, timing = journeys.timed(lambda: sum(range(100_000)))
    assert result == sum(range(100_000))
    assert timing["seconds"] >= 0
    assert timing["cpu_s"]["client"] >= 0
    assert timing["cpu_s"]["postgres"] is None
    assert len(timing["load_average_before"]) == len(timing["load_average_after"]) == 3
