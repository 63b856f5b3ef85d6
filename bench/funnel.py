"""`python -m bench.funnel`: two session funnels over ~10 million events of the generated
shop, once cold, then warm, as the runtime role in the org (docs/performance.md, step 7)."""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from bench import database, options, report
from bench.database import Dataset
from bench.report import say

TARGET_SECONDS = 1.0  # the 5-step session funnel
COMPLEX_TARGET_SECONDS = 2.0  # the TRD's limit for a complex query before an OLAP store
TIMEOUT = timedelta(seconds=30)  # generous: the bench times funnels, not their timeout


PAGE_VIEW = {"field": "event.type", "op": "eq", "value": "page.view"}


def _page_view(path: str, op: str = "eq") -> list[dict[str, Any]]:
    return [PAGE_VIEW, {"field": "page.path", "op": op, "value": path}]


PRODUCT_PAGE = _page_view("/products/", "prefix")
CHECKOUT = [_page_view(path) for path in ("/cart", "/checkout/shipping", "/checkout/payment")]
# The generator's checkout walk from a product page: the 5-step session funnel. And a
# stress shape: the same walk behind a step every session has, so every page view of the
# month is a candidate (2.2 times the candidates, 1.6 times the sessions).
FUNNELS: dict[str, list[list[dict[str, Any]]]] = {
    "product_to_confirm": [PRODUCT_PAGE, *CHECKOUT, _page_view("/checkout/confirm")],
    "landing_to_payment": [[PAGE_VIEW], PRODUCT_PAGE, *CHECKOUT],
}
TARGETS: dict[str, tuple[float, str]] = {
    "product_to_confirm": (TARGET_SECONDS,
                           "5-step session funnel over 30 days on 10 million events ≤ 1 s warm"),
    "landing_to_payment": (COMPLEX_TARGET_SECONDS, "stress shape (step 1 = every page view) ≤ 2 s "
                           "warm, the TRD's limit for a complex query"),
}  # fmt: skip


def time_funnels(dataset: Dataset, *, runs: int, explain: bool) -> list[dict[str, Any]]:
    """Run each bench funnel once cold, then `runs` times warm; return the timings."""
    from django.db import transaction

    from analytics.queries.funnel import FunnelQuery
    from analytics.stores.postgres import PostgresStore
    from productgraph.tenancy.context import org_context

    end = datetime.fromisoformat(dataset.end)
    first, project = end - timedelta(days=dataset.days), dataset.project_id
    store = PostgresStore()  # the store this bench measures, whatever ANALYTICS_STORE says
    timings = []
    for name, steps in FUNNELS.items():
        query = FunnelQuery(project_id=project, steps=steps, date_from=first, date_to=end)
        seconds: list[float] = []
        with transaction.atomic(), org_context(dataset.org_id):
            for _ in range(runs + 1):
                started = time.perf_counter()
                result = store.funnel(query, timeout=TIMEOUT)
                seconds.append(time.perf_counter() - started)
            plan = store.explain_funnel(query, timeout=TIMEOUT) if explain else None
        (cold, *warm), (target_s, target) = seconds, TARGETS[name]
        best, median = min(warm), statistics.median(warm)
        entry: dict[str, Any] = {
            "name": name, "unit": query.unit, "window": str(query.conversion_window),
            "steps": steps, "cold_s": round(cold, 3), "warm_s": [round(v, 3) for v in warm],
            "best_s": round(best, 3), "median_s": round(median, 3), "target": target,
            "target_s": target_s, "meets_target": best <= target_s, "funnel": str(result.overall),
            **({"explain_analyze": plan} if plan is not None else {}),
        }  # fmt: skip
        say(f"  {name}: cold {cold:.2f} s; warm {', '.join(f'{v:.2f}' for v in warm)} s (best "
            f"{best:.2f}, median {median:.2f}): {result.overall}")  # fmt: skip
        timings.append(entry)
    return timings


def main(argv: list[str] | None = None) -> int:
    """Load (or reuse) the data, time the funnels, write `.data/bench/funnel.json`."""
    args = options.parse(options.FUNNEL, argv, __doc__.split("\n")[0])
    load_before = report.load_average()
    say("bench.funnel: the funnel runner on the bench shop's events")
    sessions = max(1, round(args.events / database.EVENTS_PER_SESSION))
    dataset = database.prepared("funnel", sessions=sessions, reuse=args.reuse,
                                report=lambda line: say(f"  {line}"))  # fmt: skip
    runs = max(1, args.runs)
    say(f"timing {len(FUNNELS)} funnels: 1 cold + {runs} warm runs each")
    funnels = time_funnels(dataset, runs=runs, explain=args.explain)
    results = {
        **report.header("python -m bench.funnel", database.server_version(),
                        load_average_before=load_before,
                        load_average_after=report.load_average()),
        "dataset": asdict(dataset),
        "target_s": TARGET_SECONDS,
        "funnels": funnels,
    }  # fmt: skip
    report.dump(results, database.results_dir() / "funnel.json")
    say(f"wrote {database.results_dir() / 'funnel.json'}")
    database.finished("funnel", dataset, keep=args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
