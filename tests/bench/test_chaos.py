"""The verdicts of `make chaos` from its figures, and its section of the docs page. The
scenarios themselves (servers restarted, a worker killed) run only in `make chaos`."""

from __future__ import annotations

from bench import chaos, reliability
from bench.reliability import Ledger, account


def _summary(**changes) -> dict:
    summary = {
        "attempts": {"202": 600, "503": 8},
        "unhinted_5xx": 0,
        "timeouts": 0,
        "longest_attempt_s": 1.2,
        "retries": 8,
        "outcomes": {"acked": 600, "lost": 0, "refused": 0},
    }
    return {**summary, **changes}


def test_an_outage_answered_503_with_retry_after_and_no_hang_passes():
    checks = chaos.outage_checks(_summary(), timeout=10)
    assert reliability.passed(checks)


def test_an_outage_fails_on_a_bare_5xx_a_500_a_hang_or_no_503_at_all():
    for summary in (
        _summary(unhinted_5xx=1),
        _summary(attempts={"202": 600, "503": 3, "500": 1}),
        _summary(timeouts=1),
        _summary(longest_attempt_s=10.5),
        _summary(attempts={"202": 600}),  # the outage was never seen: nothing was tested
    ):
        assert not reliability.passed(chaos.outage_checks(summary, timeout=10))


def test_load_checks_need_every_request_acked_and_the_accounting_exact():
    ledger = Ledger.from_rows([["a" * 20, "acked", 100, []]])
    exact = account(ledger, {"a" * 20: 100}, rows=100, distinct=100)
    assert reliability.passed(chaos.load_checks(_summary(), exact))
    missing = account(ledger, {"a" * 20: 99}, rows=99, distinct=99)
    assert not reliability.passed(chaos.load_checks(_summary(), missing))
    given_up = _summary(outcomes={"acked": 599, "lost": 1, "refused": 0})
    assert not reliability.passed(chaos.load_checks(given_up, exact))


def test_sessions_check_reports_the_wait_or_the_bound():
    assert chaos.sessions_check("caught up", 12.0, 60).passed
    behind = chaos.sessions_check("caught up", None, 60)
    assert not behind.passed
    assert "60 s after the load ended" in behind.measured


def test_docs_lines_have_one_table_per_scenario():
    outcome = chaos.Outcome("redis-stop", "Redis stopped")
    outcome.checks = [reliability.Check("ingestion went on", True, "202: 600")]
    outcome.figures = {"note": "3 sessions were stale"}
    results = {
        "passed": True,
        "command": "make chaos",
        "date": "2026-01-01 00:00 UTC",
        "commit": "abc",
        "machine": {
            "cpus": 2,
            "cpu_model": "cpu",
            "ram_gib": 4.0,
            "kernel": "6",
            "python": "3.11",
            "postgresql": "16.2",
        },
        "load_average_before": [1.0, 1.0, 1.0],
        "load_average_after": [2.0, 1.0, 1.0],
        "settings": {
            "gunicorn_workers": 4,
            "visibility_timeout_s": 10,
            "batch": 100,
            "clients": 4,
            "rate_events_per_s": 2000,
            "load_s": 30,
            "fault_at_s": 8,
            "outage_s": 5,
            "client_timeout_s": 10,
        },
        "scenarios": [outcome.as_json()],
    }
    text = "\n".join(chaos.docs_lines(results))
    assert "### `redis-stop`: Redis stopped" in text
    assert "| ingestion went on | **pass** | 202: 600 |" in text
    assert "3 sessions were stale." in text
    assert "load average (1 / 5 / 15 min) before 1.0 / 1.0 / 1.0" in text


def test_the_worker_log_tells_which_folds_were_received_and_when_they_succeeded(tmp_path):
    log = tmp_path / "celery.log"
    log.write_text(
        "[2026-11-24 03:04:27,100: INFO/MainProcess] "
        "Task sessions.fold_touched_sessions[aaa] received\n"
        "[2026-11-24 03:04:27,150: INFO/MainProcess] Task orgs.fan_out[fan] received\n"
        "[2026-11-24 03:04:27,200: INFO/MainProcess] "
        "Task sessions.fold_touched_sessions[bbb] received\n"
        "[2026-11-24 03:04:28,500: INFO/ForkPoolWorker-1] "
        "Task sessions.fold_touched_sessions[aaa] succeeded in 0.2s: 18\n"
    )
    received = chaos._received_folds(log)
    assert received == ["aaa", "bbb"]
    done = chaos._succeeded(log, received)
    assert set(done) == {"aaa"}
    assert done["aaa"] - chaos._succeeded(log, ["aaa"])["aaa"] == 0
    # A scenario reads only its own part of the log.
    since = log.stat().st_size
    with log.open("a") as tail:
        tail.write(
            "[2026-11-24 03:05:00,000: INFO/MainProcess] "
            "Task sessions.fold_touched_sessions[ccc] received\n"
        )
    assert chaos._received_folds(log, since) == ["ccc"]
