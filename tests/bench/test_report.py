"""docs/performance.md's funnel and journey sections, rendered from sample results.

The samples in `samples/` are real `bench.funnel` / `bench.journeys` outputs (trimmed) and a
`python -m bench` result; no benchmark runs here.
"""

from __future__ import annotations

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
    section = "\n".join(report._journeys_lines(journeys))
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
    assert 'warning "Shared machine"' in "\n".join(report._journeys_lines(journeys))
    for step in (journeys["fold"], journeys["refresh_org"], journeys["metrics_only"]):
        step["load_average_before"] = step["load_average_after"] = [0.5, 0.5, 0.5]
    for step in journeys["refresh"]:
        step["load_average_before"] = step["load_average_after"] = [0.5, 0.5, 0.5]
    assert "Shared machine" not in "\n".join(report._journeys_lines(journeys))
