"""The pure pieces of `make soak` (and `make chaos`): the ledger, the accounting, the
retrying client, the checks and the docs page. The runs themselves are not repeated here."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from bench import load, reliability, soak
from bench.reliability import Check, Ledger, account

ROWS = [
    ["a" * 20, "acked", 100, []],
    ["b" * 20, "acked", 100, [3, 7]],
    ["c" * 20, "lost", 100, []],
    ["d" * 20, "refused", 100, []],
]


def test_ledger_counts_acked_events_without_the_rejected_ones():
    ledger = Ledger.from_rows(ROWS)
    assert ledger.acked == {"a" * 20: 100, "b" * 20: 98}
    assert ledger.acked_events == 198
    assert ledger.lost == {"c" * 20}
    assert ledger.refused == {"d" * 20}


def test_ledger_reads_the_load_generators_file(tmp_path: Path):
    path = tmp_path / "ledger.json"
    path.write_text(json.dumps({"requests": ROWS}))
    assert Ledger.read(path) == Ledger.from_rows(ROWS)


def test_account_is_exact_when_acked_events_are_stored_once_and_lost_ones_may_be():
    ledger = Ledger.from_rows(ROWS)
    stored = {"a" * 20: 100, "b" * 20: 98, "c" * 20: 100}
    figures = account(ledger, stored, rows=298, distinct=298)
    assert figures["exact"]
    assert figures["from_lost_requests"] == 100
    assert figures["missing"] == figures["unexplained"] == figures["duplicate_rows"] == 0
    assert "100 from requests whose answer was lost" in reliability.accounting_line(figures)


def test_account_flags_missing_duplicate_and_unacknowledged_rows():
    ledger = Ledger.from_rows(ROWS)
    missing = account(ledger, {"a" * 20: 99, "b" * 20: 98}, rows=197, distinct=197)
    assert not missing["exact"]
    assert missing["missing"] == 1
    twice = account(ledger, {"a" * 20: 101, "b" * 20: 98}, rows=199, distinct=198)
    assert not twice["exact"]
    assert twice["duplicate_rows"] == 1
    assert twice["beyond_acked"] == 1
    refused = account(ledger, {"a" * 20: 100, "b" * 20: 98, "d" * 20: 5}, rows=203, distinct=203)
    assert not refused["exact"]
    assert refused["unexplained"] == 5


def test_memory_check_compares_each_process_first_and_last_span():
    flat = [{"first_mb": 100.0, "last_mb": 101.0, "growth_mb": 1.0, "growth_pct": 1.0}]
    grown = [*flat, {"first_mb": 100.0, "last_mb": 110.0, "growth_mb": 10.0, "growth_pct": 10.0}]
    assert reliability.memory_check("rss", flat, limit_pct=5).passed
    check = reliability.memory_check("rss", grown, limit_pct=5)
    assert not check.passed
    assert "+10.0 MB" in check.measured
    assert not reliability.memory_check("rss", [], limit_pct=5).passed


def _summary(**outcomes: int) -> dict:
    return {
        "outcomes": {"acked": 10, "lost": 0, "refused": 0, **outcomes},
        "retries": 2,
        "attempts": {"202": 10, "503": 2},
    }


def test_soak_checks_fail_on_any_broken_figure():
    figures = account(Ledger.from_rows(ROWS[:1]), {"a" * 20: 100}, rows=100, distinct=100)
    rows = [{"first_mb": 100.0, "last_mb": 100.0, "growth_mb": 0.0, "growth_pct": 0.0}]
    consistency = {"consistent": True, "events": 100, "reflected": 100, "sessions": 3}
    arguments = {
        "figures": figures,
        "summary": _summary(),
        "celery_rows": rows,
        "worker_rows": rows,
        "drained": 3.0,
        "drain_bound": 60.0,
        "consistency": consistency,
        "span": 60.0,
    }
    assert reliability.passed(soak.soak_checks(**arguments))
    for change in (
        {"summary": _summary(lost=1)},
        {"drained": None},
        {"consistency": {**consistency, "consistent": False, "reflected": 99}},
        {"celery_rows": [{**rows[0], "last_mb": 120.0, "growth_mb": 20.0, "growth_pct": 20.0}]},
    ):
        assert not reliability.passed(soak.soak_checks(**{**arguments, **change}))


def test_docs_page_replaces_only_its_own_section():
    first = reliability.docs_page("", name="soak", lines=["## Soak", "", "soak figures"])
    assert "soak figures" in first
    assert "Not run yet: `make chaos`." in first
    second = reliability.docs_page(first, name="chaos", lines=["## Chaos", "", "chaos figures"])
    assert "soak figures" in second
    assert "chaos figures" in second
    third = reliability.docs_page(second, name="soak", lines=["## Soak", "", "new figures"])
    assert "soak figures" not in third
    assert "new figures" in third
    assert "chaos figures" in third
    assert third.startswith("# Reliability figures")
    by_hand = "# Figures\n\nWritten by hand.\n\n<!-- soak:start -->\nold\n<!-- soak:end -->\n"
    kept = reliability.docs_page(by_hand, name="soak", lines=["x"])
    assert kept.startswith("# Figures\n\nWritten by hand.\n\n<!-- soak:start -->\nx\n")


def test_check_tables_render_every_check():
    checks = [Check("stored once", True, "1 | 2"), Check("memory flat", False, "+9 %")]
    markdown = "\n".join(reliability.check_table(checks))
    assert "| stored once | **pass** | 1 / 2 |" in markdown
    assert "| memory flat | **FAIL** | +9 % |" in markdown


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 + Retry-After to the first attempt of each body, 202 afterwards."""

    seen: ClassVar[dict[bytes, int]] = {}
    unhinted = False

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        count = self.seen.get(body, 0)
        self.seen[body] = count + 1
        if count == 0:
            payload, status = b'{"error": {"code": "unavailable"}}', 503
        else:
            events = json.loads(body)["events"]
            answer = {"accepted": len(events), "duplicates": 0, "rejected": 0, "errors": []}
            payload, status = json.dumps(answer).encode(), 202
        self.send_response(status)
        if status == 503 and not self.unhinted:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):
        pass


def test_retrying_client_resends_the_same_body_and_records_every_outcome(tmp_path: Path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ledger = tmp_path / "ledger.json"
    try:
        args = load.parser().parse_args(
            [
                f"--port={server.server_address[1]}",
                "--key=pk_test",
                "--project=proj_test",
                "--batch=5",
                "--clients=2",
                "--duration=0.5",
                "--warmup=0",
                "--retry",
                "--retry-grace=5",
                f"--ledger={ledger}",
            ]
        )
        summary = load.run(args)
    finally:
        server.shutdown()
        server.server_close()
    requests = json.loads(ledger.read_text())["requests"]
    assert requests
    assert all(outcome == "acked" for _, outcome, _, _ in requests)
    assert summary["outcomes"]["acked"] == len(requests)
    assert summary["attempts"]["503"] == summary["retries"] == len(requests)
    assert summary["unhinted_5xx"] == 0
    assert all(count == 2 for count in _Flaky.seen.values())  # each body twice, no more
    assert len({token for token, _, _, _ in requests}) == len(requests)


def test_retry_policy_honours_retry_after_within_its_cap_and_deadline():
    policy = load.RetryPolicy(deadline=float("inf"), cap=10.0)
    assert policy.wait(1, "5") == 5.0
    assert policy.wait(1, "60") == 10.0
    assert policy.wait(1, None) == 0.1
    assert policy.wait(6, None) == 2.0
    assert load.RetryPolicy(deadline=0.0).wait(1, "5") == 0.0
    assert load.RetryPolicy.retryable(None)
    assert load.RetryPolicy.retryable(503)
    assert load.RetryPolicy.retryable(429)
    assert not load.RetryPolicy.retryable(400)
    assert load.outcome(None, lost=True) == load.LOST
    assert load.outcome((503, b""), lost=False) == load.REFUSED
    assert load.outcome((202, b""), lost=True) == load.ACKED
