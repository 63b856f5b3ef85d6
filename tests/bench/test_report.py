"""The targets and docs/performance.md's generated part, from sample results.

The samples in `samples/` are real `bench.funnel` / `bench.journeys` outputs (trimmed) and a
`python -m bench` result; no benchmark runs here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bench import report

SAMPLES = Path(__file__).parent / "samples"


def _sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return loaded


@pytest.fixture
def results() -> dict[str, Any]:
    return _sample("results")


def _sessions(p95: float | None, drain: float | None) -> dict[str, Any]:
    return {
        "lag_s": {"markers": 40, "caught_up": 40 if p95 is not None else 30,
                  "not_caught_up": 0 if p95 is not None else 10, "bound_s": 60.0, "p50": 1.0,
                  "p95": p95, "max": p95},
        "folded_events_per_s": 9_000.0,
        "backlog_at_stop": {"events": 20_000, "marks": 400},
        "drain_s": drain,
        "drain_bound_s": 60.0,
        "left_at_bound": None if drain is not None else {"events": 5_000, "marks": 100},
        "catch_up_events_per_s": 10_000.0,
        "cores": {"celery": 0.3, "postgres_celery": 0.1},
        "folded_per_cpu_s": 40_000.0,
        "rows_read_per_event": 1.4,
        "kept_up": drain is not None and drain <= 10,
    }  # fmt: skip


def _phase(name: str, batch: int, mode: str, events: float, p99: float) -> dict[str, Any]:
    return {
        "name": name, "batch": batch, "mode": mode, "events_per_s": events,
        "requests_per_s": events / batch,
        "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": p99, "max": p99, "mean": 1.0},
        "statuses": {"202": 10}, "non_success": 0, "transport_errors": 0, "rejected": 0,
        "duplicates": 0, "first_error": "", "worker_peak_rss_mb": [80.0, 81.0],
        "cpu_cores": {"app_workers": 1.0, "postgres": 0.5, "load_generator": 0.1, "machine": 1.8},
    }  # fmt: skip


def test_report_checks_the_targets_and_renders_the_page(results):
    results["phases"] = [
        _phase("1000 per batch", 1000, "closed", 30_000.0, 400.0)
        | {"sessions": _sessions(p95=12.5, drain=None)},
        _phase("100 per batch at half the max rate", 100, "paced", 5_000.0, 150.0)
        | {"sessions": _sessions(p95=2.0, drain=1.5)},
    ]
    results["ceiling"] = {
        "rows": 1000,
        "rows_per_s": 50_000.0,
        "per_batch": {"batch": 1000, "rows_per_s": 40_000.0},
        "filled": {"rows_held": 2_000_000, "rows_per_s": 37_500.0},
    }
    results["ratio"] = report.ratio(results)
    results["targets"] = report.targets(results)
    assert results["ratio"] == 0.6
    assert [target["passed"] for target in results["targets"]] == [
        True, False, False, False, False, None
    ]  # fmt: skip
    assert results["targets"][0]["measured"] == "80%"  # 30,000 events/s over 37,500 rows/s
    # (1.0 app + 0.5 PG + 0.3 fold worker + 0.1 its PG) cores over 30,000 events/s
    assert results["targets"][1]["measured"] == "63.3 µs"
    assert results["targets"][3]["measured"] == "worst p95 12.5 s (1000 per batch)"
    assert "> 60 s" in results["targets"][4]["measured"]
    assert "5,000 events still unfolded" in results["targets"][4]["measured"]
    page = report.markdown(results)
    assert page.startswith("## Options\n")
    assert "| `BENCH_SOAK` | `--soak` | `0` | `make bench` |" in page
    assert "| 1000 per batch | 1,000 | 30,000 |" in page
    assert "CPU per event (1,000-event batches): 63.3 µs (cores: app workers / their" in page
    assert "## Sessions under load" in page
    assert "| 1000 per batch | 30,000 | 9,000 | 1.0 s | 12.5 s |" in page
    assert "MISSED" in page
    assert "consistent." in page
    summary = report.summary(results)
    assert "p99" in summary and "Folded events/s" in summary
    assert "holding the 2,000,000 rows the events table held when the 1,000-event phase " in (
        summary
    )
    assert "began: 37,500 rows/s (end-to-end over it: 80%)" in summary
    info = results["sessions"]["consistency"] | {"reflected": 5, "consistent": False}
    assert "INCONSISTENT" in report.consistency_line(info)
    assert "not all folded yet" in report.consistency_line(info, drained=False)
    row = report.sessions_row("p", 1.0, results["phases"][0]["sessions"])
    assert row[8] == "> 60 s (behind)"


def test_report_without_a_worker_leaves_the_session_targets_unmeasured():
    results: dict[str, Any] = {
        "phases": [_phase("1000 per batch", 1000, "closed", 30_000.0, 400.0)],
        "ceiling": {"rows": 1000, "rows_per_s": 50_000.0, "filled": {"rows_per_s": 50_000.0}},
        "memory": {"soak": None},
        "ratio": 0.6,
    }
    found = report.targets(results)
    # No worker: no fold CPU, so no whole-machine CPU per event either.
    assert [target["passed"] for target in found] == [True, None, None, None, None, None]


def test_page_renders_the_funnel_and_journey_sections_before_the_targets(results):
    page = report.markdown(results, funnel=_sample("funnel"), journeys=_sample("journeys"))
    funnels = page.index("## Funnels on 10 million events")
    journeys = page.index("## Journey refresh over 100,000 sessions")
    assert page.index("## Sessions under load") < funnels < journeys < page.index("## Targets")
    assert "10,016,676 events in 257,069 generated visits" in page
    assert "`python -m bench.funnel` — 2026-11-24 02:59 UTC" in page
    assert (
        "| `product_to_confirm` (session) | page.view /products/… → page.view /cart → "
        "page.view /checkout/shipping → page.view /checkout/payment → "
        "page.view /checkout/confirm | 5.41 | 5.54, 4.94, 5.55 | 4.94 | 5.54 | ≤ 1 s: MISSED |"
    ) in page
    assert "| fold every session, 500 per transaction" in page
    assert "22,967 events/s, 589 sessions/s" in page
    assert (
        "After the folds: 2,000 session rows counting 77,974 events (every loaded event)." in page
    )
    assert "| `checkout` | 582 | 249 | 192 | 141 | 0 | 0 |" in page


def test_targets_table_gains_the_funnel_refresh_and_fold_rows(results):
    page = report.markdown(results, funnel=_sample("funnel"), journeys=_sample("journeys"))
    targets = page[page.index("## Targets") :]
    # The sample predates per-funnel targets: both funnels are held to the file's 1 s.
    assert (
        "| 5-step session funnel over 30 days on 10 million events ≤ 1 s warm | "
        "`landing_to_payment`: best warm 5.92 s, median 6.58 s (10,016,676 events) | MISSED |"
    ) in targets
    assert (
        "≤ 30 s (`journeys_refresh_project`) | first 0.7 s, warm 0.8 s (2,000 sessions) | met |"
        in (targets)
    )
    assert "| 22,967 events/s (2,000 sessions, 77,974 events in 3.4 s) | figure |" in targets


def test_each_funnel_is_held_to_its_own_target(results):
    funnel = _sample("funnel")
    checkout, stress = funnel["funnels"]
    checkout.update(target="the checkout funnel ≤ 1 s warm", target_s=1.0, meets_target=True)
    stress.update(target="the stress shape ≤ 2 s warm", target_s=2.0, meets_target=False)
    rows = report.funnel_targets(funnel)
    assert [(row["target"], row["passed"]) for row in rows] == [
        ("the checkout funnel ≤ 1 s warm", True),
        ("the stress shape ≤ 2 s warm", False),
    ]
    assert rows[0]["measured"].startswith(f"`{checkout['name']}`: best warm ")
    section = report.markdown(results, funnel=funnel).split("## Funnels on 10 million events")[1]
    assert "| ≤ 1 s: met |" in section and "| ≤ 2 s: MISSED |" in section


def test_refresh_target_is_missed_when_any_run_is_slower_than_30_s():
    journeys = _sample("journeys")
    journeys["refresh"][0]["seconds"] = 30.5
    refresh, fold = report.journeys_targets(journeys)
    assert refresh["passed"] is False
    assert fold["passed"] is None
    assert fold["figure"] is True


def test_without_funnel_or_journey_results_the_page_says_they_were_not_run(results):
    page = report.markdown(results)
    assert "## Funnels on 10 million events" not in page
    assert "## Journey refresh" not in page
    assert page.count("not run (python -m bench.funnel)") == 1
    assert page.count("not run (python -m bench.journeys)") == 2


def test_companions_reads_whatever_results_exist(tmp_path: Path):
    (tmp_path / "journeys.json").write_text(json.dumps({"fold": {}}))
    assert report.companions(tmp_path) == {"funnel": None, "journeys": {"fold": {}}}


def test_journey_steps_show_cpu_seconds_when_measured():
    journeys = _sample("journeys")
    journeys["refresh"][1]["cpu_s"] = {"client": 12.34, "postgres": 5.0}
    section = report._journeys(journeys)
    assert "| `journeys_refresh_project`, warm run (every session re-matched, then metrics) | " in (
        section
    )
    assert "| 0.8 | 12.3 / 5.0 | 776 journey rows written | met |" in section
    assert "| 0.7 | — / — | 776 journey rows written | met |" in section


def test_cpu_seconds_reach_the_targets_and_a_busy_machine_is_flagged():
    journeys = _sample("journeys")
    journeys["fold"]["cpu_s"] = {"client": 2.0, "postgres": 1.9}
    journeys["refresh"][0]["cpu_s"] = {"client": 0.4, "postgres": 0.2}
    refresh, fold = report.journeys_targets(journeys)
    assert refresh["measured"] == "first 0.7 s (0.6 CPU-s), warm 0.8 s (2,000 sessions)"
    assert fold["measured"].startswith("22,967 events/s, 19,993 per CPU-s (2,000 sessions")
    assert 'warning "Shared machine"' in report._journeys(journeys)
    for step in (journeys["fold"], journeys["refresh_org"], journeys["metrics_only"]):
        step["load_average_before"] = step["load_average_after"] = [0.5, 0.5, 0.5]
    for step in journeys["refresh"]:
        step["load_average_before"] = step["load_average_after"] = [0.5, 0.5, 0.5]
    assert "Shared machine" not in report._journeys(journeys)


def test_soak_section_lists_gunicorn_and_celery_processes(results):
    worker = {"first_mb": 90.0, "last_mb": 91.0, "growth_mb": 1.0, "growth_pct": 1.1}
    results["memory"]["soak"] = {
        "seconds": 300, "span_s": 60, "batch": [1, 100, 1000], "events_per_s": 20_000.0,
        "workers": [worker | {"pid": 1, "peak_mb": 92.0}], "worker_restarts": 0,
        "celery": [worker | {"pid": 2, "peak_mb": 95.0}, worker | {"pid": 3, "peak_mb": 150.0}],
    }  # fmt: skip
    page = report.markdown(results)
    assert "| 1 | 90.0 | 91.0 | +1.0 MB (+1.1 %) | 92.0 |" in page
    assert "| Celery pool 1 | 90.0 | 91.0 | +1.0 MB (+1.1 %) | 150.0 |" in page
    carried = copy.deepcopy(results) | {"command": "BENCH_SOAK=300 make bench"}
    results["memory"]["soak"] = None
    page = report.markdown(results, previous_soak=carried)
    assert "From the last soak run: `BENCH_SOAK=300 make bench` on 2026-01-01" in page


def test_the_page_keeps_what_is_written_above_its_marker(results, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "BASE_DIR", tmp_path)
    page = tmp_path / "docs" / "performance.md"
    page.parent.mkdir()
    page.write_text(f"# Performance\n\nHow it works.\n\n{report.MARKER}\n\nold figures\n")
    report.write_page(results, tmp_path / "data", "docs")
    written = page.read_text()
    assert written.startswith(f"# Performance\n\nHow it works.\n\n{report.MARKER}\n\n## Options\n")
    assert "old figures" not in written
    assert "## Latest results" in written
