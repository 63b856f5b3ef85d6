"""The results: targets, JSON, and docs/performance.md, whose part below `MARKER` is rendered
from templates/performance.md (`python -m bench.report`: from the last `.data/bench/*.json`).
No Django here."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from string import Template
from typing import Any

from bench import options

BASE_DIR = Path(__file__).resolve().parent.parent
RATIO_TARGET, P99_TARGET_MS, MEMORY_GROWTH_TARGET_PCT = 0.50, 100.0, 5.0
CPU_US_TARGET = 40.0  # the whole machine's CPU per event, 1,000-event batches
DOOR_COST_SHARE = 0.5  # a door's events per CPU-second over /v1/events': at most 2x the cost
LAG_TARGET_S, MARKER_EVENTS = 10.0, 3  # bench.sessions'
FUNNEL_TARGET_S, REFRESH_TARGET_S = 1.0, 30.0  # bench.funnel's, bench.journeys' (JSON's win)
MARKER = "<!-- Everything below is written by `make bench` (bench/report.py). -->"
_TEMPLATE = (Path(__file__).parent / "templates" / "performance.md").read_text()
_BLOCKS = dict(re.findall(r"^%% (\w+)\n(.*?)(?=^%% |\Z)", _TEMPLATE, re.MULTILINE | re.DOTALL))
_STATUSES = ("converted", "dropped", "bounced", "abandoned", "pending")
Results = dict[str, Any]


def render(name: str, **values: object) -> str:
    """Template block `name` with `values`, without its surrounding blank lines."""
    return Template(_BLOCKS[name]).substitute(values).strip("\n")


def section(name: str, **values: object) -> str:
    """An optional section of the page: the block and the blank line after it."""
    return render(name, **values) + "\n\n"


def say(line: str) -> None:
    print(line, flush=True)


def dump(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


def load_json(path: Path) -> Results | None:
    """A results file, or None when there is none (or it is unreadable)."""
    try:
        loaded: Results = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return loaded


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def header(command: str, postgres_version: str, **machine: object) -> Results:
    """When, what (the commit, marked when the tree had changes) and on what a run measured."""
    import psutil

    git = ["git", "-C", str(BASE_DIR)]
    try:
        commit = subprocess.check_output([*git, "rev-parse", "--short", "HEAD"], text=True).strip()  # noqa: S603
        dirty = subprocess.check_output([*git, "status", "--porcelain", "--untracked-files=no"])  # noqa: S603
        commit += " + uncommitted changes" if dirty.strip() else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    info = Path("/proc/cpuinfo").read_text().split("\n") if Path("/proc/cpuinfo").exists() else []
    models = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "command": command,
            "commit": commit, "machine": {
                "cpus": cpus(), "cpu_model": (models or [platform.processor() or "unknown"])[0],
                "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
                "kernel": platform.release(), "python": platform.python_version(),
                "postgresql": postgres_version, **machine,
                **{name: version(name) for name in ("django", "gunicorn", "psycopg")}}}  # fmt: skip


# What the phases measured, and the targets ------------------------------------------------


def non_success(phase: Results) -> int:
    """Answers other than the door's success status (`non_202` in results before doors)."""
    return int(phase.get("non_success", phase.get("non_202")) or 0)


def phase_problems(phase: Results) -> list[str]:
    """What makes a phase's numbers untrustworthy: failed requests, rejected events."""
    problems = []
    if non_success(phase):
        problems.append(f"{non_success(phase)} failed answers {phase['statuses']}")
    if phase["transport_errors"]:
        problems.append(f"{phase['transport_errors']} connection errors")
    if phase["rejected"] or phase["duplicates"]:
        problems.append(f"{phase['rejected']} rejected, {phase['duplicates']} duplicate events")
    if problems and phase.get("first_error"):
        problems.append(f"first: {phase['first_error'][:200]}")
    return problems


def phase_line(phase: Results) -> str:
    latency, problems = phase["latency_ms"], phase_problems(phase)
    problems = [f" — {'; '.join(problems)}"] if problems else []
    return "".join([
        f"{phase['events_per_s']:,.0f} events/s, {phase['requests_per_s']:,.0f} requests/s, ",
        f"p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms, p99 {latency['p99']:.1f} ms",
        *problems,
    ])  # fmt: skip


def _phase(results: Results, batch: int, mode: str, door: str = "events") -> Any:
    return next((p for p in results["phases"] if (p["batch"], p["mode"]) == (batch, mode)
                 and p["name"] != "soak" and p.get("door", "events") == door), None)  # fmt: skip


def _spent(cpu: Results | None, first: str) -> float | None:
    parts: list[Any] = [(cpu or {}).get(name) for name in (first, "postgres")]  # both, or None
    return None if None in parts else sum(parts)


def per_cpu_second(phase: Results) -> float | None:
    """Events per CPU-second of the app workers plus PostgreSQL (robust to other load)."""
    spent = _spent(phase.get("cpu_cores"), "app_workers")
    return round(phase["events_per_s"] / spent, 1) if spent else None


def ceiling_per_cpu_second(results: Results) -> float | None:
    """Rows per CPU-second of the COPY: its client (row encoding) plus PostgreSQL."""
    spent = _spent(results["ceiling"].get("cpu_s"), "client")
    return round(results["ceiling"]["rows"] / spent, 1) if spent else None


def ratio(results: Results) -> float | None:
    """End-to-end events/s with 1,000-event batches over the raw COPY ceiling."""
    thousand, ceiling = _phase(results, 1000, "closed"), results["ceiling"]["rows_per_s"]
    return None if thousand is None or not ceiling else round(thousand["events_per_s"] / ceiling, 3)


def cpu_ratio(results: Results) -> float | None:
    """The same ratio per CPU-second: what the path costs, whoever else used the machine."""
    thousand, ceiling = _phase(results, 1000, "closed"), ceiling_per_cpu_second(results)
    end_to_end = per_cpu_second(thousand) if thousand else None
    return None if not ceiling or end_to_end is None else round(end_to_end / ceiling, 3)


def faithful_ratio(results: Results) -> float | None:
    """End-to-end events/s with 1,000-event batches over the faithful ceiling: a COPY into a
    partitioned copy of the events table holding the rows it held when that phase began."""
    thousand, filled = _phase(results, 1000, "closed"), results["ceiling"].get("filled")
    if thousand is None or not filled or not filled["rows_per_s"]:
        return None
    return round(thousand["events_per_s"] / filled["rows_per_s"], 3)


def machine_cpu(phase: Results | None) -> tuple[float, list[float]] | None:
    """The whole machine's CPU per event stored (µs) in a phase, and its parts (cores): the
    app workers, their PostgreSQL, the fold worker and its PostgreSQL."""
    if phase is None or not phase["events_per_s"]:
        return None
    cpu, folds = phase.get("cpu_cores") or {}, (phase.get("sessions") or {}).get("cores") or {}
    found = [cpu.get("app_workers"), cpu.get("postgres"), folds.get("celery"),
             folds.get("postgres_celery")]  # fmt: skip
    parts = [float(part) for part in found if part is not None]
    if len(parts) < len(found):
        return None
    return round(sum(parts) / phase["events_per_s"] * 1e6, 1), parts


def _target(target: str, measured: str, passed: bool | None, **more: object) -> Results:
    return {"target": target, "measured": measured, "passed": passed, **more}


def _s(value: float | None, bound: float | None = None) -> str:
    if value is None:
        return f"> {bound:.0f} s" if bound is not None else "—"
    return f"{value:.1f} s"


def targets(results: Results) -> list[Results]:
    """The issue's targets, each with what was measured and whether it was met."""
    value, paced = faithful_ratio(results), _phase(results, 100, "paced")
    p99 = paced["latency_ms"]["p99"] if paced else None
    spent = machine_cpu(_phase(results, 1000, "closed"))
    found = [
        _target("end-to-end events/s ≥ 50 % of the faithful ceiling (a COPY into a partitioned "
                "copy holding the same rows; 1,000-event batches)",
                "not measured" if value is None else f"{value:.0%}",
                None if value is None else value >= RATIO_TARGET),
        _target(f"the whole machine's CPU per event ≤ {CPU_US_TARGET:.0f} µs (1,000-event "
                "batches: app workers, their PostgreSQL, the fold worker, its PostgreSQL)",
                "not measured" if spent is None else f"{spent[0]:.1f} µs",
                None if spent is None else spent[0] <= CPU_US_TARGET),
        _target("p99 ≤ 100 ms, 100-event batches at half the maximum rate",
                "not measured" if p99 is None else f"{p99:.1f} ms",
                None if p99 is None else p99 <= P99_TARGET_MS),
    ]  # fmt: skip
    # Each other door: an event through it may cost more than through /v1/events, but not
    # twice as much (issue 16): events per CPU-second (app + PostgreSQL), else events/s.
    events = _phase(results, 1000, "closed")
    for door in sorted({phase.get("door", "events") for phase in results["phases"]} - {"events"}):
        if events is None or (other := _phase(results, 1000, "closed", door)) is None:
            continue
        mine, theirs, unit = per_cpu_second(other), per_cpu_second(events), "events per CPU-s"
        if mine is None or not theirs:
            mine, theirs, unit = other["events_per_s"], events["events_per_s"], "events/s"
        share = mine / theirs if theirs else 0.0
        cost = f"{1 / share if share else float('inf'):.2f}x the cost"
        found.append(_target(f"{door}: cost per event ≤ 2x /v1/events' (1,000-event batches)",
                             f"{mine:,.0f} vs {theirs:,.0f} {unit}: {cost}",
                             share >= DOOR_COST_SHARE))  # fmt: skip
    found += _session_targets(results)
    soak = results["memory"]["soak"]
    if not soak or not soak["workers"]:
        measured = "not run (BENCH_SOAK=300 make bench)"
        return [*found, _target("worker memory flat over a 5-minute run", measured, None)]
    worst = max(soak["workers"], key=lambda worker: worker["growth_pct"])
    growth = f"{worst['growth_mb']:+.1f} MB ({worst['growth_pct']:+.1f} %)"
    limit = MEMORY_GROWTH_TARGET_PCT
    return [*found, _target(
        f"worker memory flat over a 5-minute run (last minute ≤ first minute + {limit:.0f} %)",
        f"worst worker {growth} over {soak['seconds']} s",
        worst["growth_pct"] <= limit and soak["seconds"] >= 300)]  # fmt: skip


def _session_targets(results: Results) -> list[Results]:
    """Lag p95 ≤ 10 s in every ingestion phase; the worker keeps up in the closed-loop ones."""
    watched = [phase for phase in results["phases"] if phase.get("sessions")]
    lag_target = f"session lag p95 ≤ {LAG_TARGET_S:.0f} s after the 202, every ingestion phase"
    keep_target = ("Celery worker keeps up with the maximum ingestion rate (sessions reflect every "
                   f"event ≤ {LAG_TARGET_S:.0f} s after each closed-loop phase stops)")  # fmt: skip
    if not watched:
        return [_target(n, "not measured (no worker)", None) for n in (lag_target, keep_target)]

    def worst(name: str) -> Any:
        def key(p: Results) -> float:
            value = p["sessions"]["lag_s"]["p95"] if name == "p95" else p["sessions"][name]
            return float("inf") if value is None else float(value)

        return key

    unprobed = [phase["name"] for phase in watched if not phase["sessions"]["lag_s"]["markers"]]
    slowest_lag = max(watched, key=worst("p95"))
    lag = slowest_lag["sessions"]["lag_s"]
    closed = [phase for phase in watched if phase["mode"] == "closed"]
    behind = [phase for phase in closed if not phase["sessions"]["kept_up"]]
    kept, slowest = "no closed-loop phase", max(closed, key=worst("drain_s"), default=None)
    if slowest is not None:
        drain = slowest["sessions"]
        after = _s(drain["drain_s"], drain["drain_bound_s"])
        kept = f"slowest: {slowest['name']}, caught up {after} after the load stopped"
        if drain["drain_s"] is None and drain["left_at_bound"]:
            kept += f" ({drain['left_at_bound']['events']:,} events still unfolded)"
        kept += f"; behind in {len(behind)} of {len(closed)} phases" if behind else ""
    lag_measured = f"worst p95 {_s(lag['p95'], lag['bound_s'])} ({slowest_lag['name']})"
    if unprobed:
        lag_measured = f"no marker was accepted in: {', '.join(unprobed)}"
    lag_met = None if unprobed else all(worst("p95")(p) <= LAG_TARGET_S for p in watched)
    return [_target(lag_target, lag_measured, lag_met),
            _target(keep_target, kept, None if slowest is None else not behind)]  # fmt: skip


def funnel_targets(funnel: Results | None) -> list[Results]:
    """One target per bench funnel (older results: all held to the file's `target_s`)."""
    target = "5-step session funnel over 30 days on 10 million events ≤ {:g} s warm"
    if not funnel or not funnel.get("funnels"):
        return [_target(target.format(1), "not run (python -m bench.funnel)", None)]
    default, events = float(funnel.get("target_s", FUNNEL_TARGET_S)), funnel["dataset"]["events"]
    return [_target(entry.get("target") or target.format(default),
                    f"`{entry['name']}`: best warm {entry['best_s']:.2f} s, median "
                    f"{entry['median_s']:.2f} s ({events:,} events)", entry["meets_target"])
            for entry in funnel["funnels"]]  # fmt: skip


def journeys_targets(journeys: Results | None) -> list[Results]:
    """The journey refresh target and the fold throughput figure, from journeys.json."""
    target = "journey refresh over 100,000 sessions ≤ 30 s (`journeys_refresh_project`)"
    figure = "aggregation throughput: events folded per second (`sessions_fold`, one process)"
    if not journeys:
        return [
            _target(name, "not run (python -m bench.journeys)", None) for name in (target, figure)
        ]
    runs, fold = journeys["refresh"], journeys["fold"]
    fold_cpu = _spent(fold.get("cpu_s"), "client")
    refresh = ", ".join(
        f"{run['run']} {run['seconds']:.1f} s" + ("" if cpu is None else f" ({cpu:.1f} CPU-s)")
        for run, cpu in ((run, _spent(run.get("cpu_s"), "client")) for run in runs)
    )
    per_cpu = f", {fold['events'] / fold_cpu:,.0f} per CPU-s" if fold_cpu else ""
    limit = journeys.get("target_s", REFRESH_TARGET_S)
    return [_target(target, f"{refresh} ({journeys['dataset']['sessions']:,} sessions)",
                    max(run["seconds"] for run in runs) <= limit),
            _target(figure, f"{fold['events_per_s']:,.0f} events/s{per_cpu} ({fold['sessions']:,} "
                    f"sessions, {fold['events']:,} events in {fold['seconds']:,.1f} s)", None,
                    figure=True)]  # fmt: skip


# Lines and tables -------------------------------------------------------------------------


def _verdict(passed: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "—"}[passed]


def _n(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _md(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows[1:]])


def _cores(cpu: Results, *names: str) -> str:
    return " / ".join("?" if cpu.get(name) is None else f"{cpu[name]:.2f}" for name in names)


def consistency_line(consistency: Results, *, drained: bool = True) -> str:
    """Whether the sessions, at the end, count every stored event once (`drained`: the last
    phase caught up within its bound; if not, the rows are behind, not wrong)."""
    verdict = "consistent" if consistency["consistent"] else "INCONSISTENT" if drained else (
        "not all folded yet: the last phase did not catch up within the bound")  # fmt: skip
    return (f"At the end: {consistency['events']:,} events stored, {consistency['reflected']:,} "
            f"counted in {consistency['sessions']:,} session rows — {verdict}")  # fmt: skip


def phases_table(results: Results) -> list[list[str]]:
    """Each phase's throughput, latency, failures, memory and CPU split."""
    rows = [["Phase", "Batch", "Events/s", "Requests/s", "p50 ms", "p95 ms", "p99 ms",
             "Events per CPU-s", "Failed", "Peak RSS per worker, MB",
             "CPU cores: app / PG / load of machine"]]  # fmt: skip
    for phase in results["phases"]:
        batch, cpu, ms = phase["batch"], phase.get("cpu_cores") or {}, phase["latency_ms"]
        batches = [batch] if isinstance(batch, int) else batch
        cores = _cores(cpu, "app_workers", "postgres", "load_generator")
        rows.append([phase["name"], ", ".join(f"{size:,}" for size in batches),
                     f"{phase['events_per_s']:,.0f}", f"{phase['requests_per_s']:,.0f}",
                     *(f"{ms[p]:.1f}" for p in ("p50", "p95", "p99")), _n(per_cpu_second(phase)),
                     str(non_success(phase) + phase["transport_errors"]),
                     " / ".join(f"{mb:.0f}" for mb in phase["worker_peak_rss_mb"]) or "—",
                     f"{cores} of {cpu.get('machine', 0):.2f}" if cpu else "—"])  # fmt: skip
    return rows


def sessions_row(name: str, ingested: float, sessions: Results) -> list[str]:
    """A phase's session numbers: a row of the sessions table, and a progress line."""
    lag, backlog, drain = sessions["lag_s"], sessions["backlog_at_stop"], sessions["drain_s"]
    bound, per_event = lag["bound_s"] if lag["markers"] else None, sessions["rows_read_per_event"]
    seq = sessions.get("rows_read_by_seq_scans")
    reads = "—" if per_event is None else f"{per_event:.1f}" + (f" ({seq:.0%} seq.)" if seq else "")
    return [name, f"{ingested:,.0f}", f"{sessions['folded_events_per_s']:,.0f}",
            *(_s(lag[p], bound) for p in ("p50", "p95", "max")),
            f"{lag['markers']} ({lag['not_caught_up']})",
            f"{backlog['events']:,} / {backlog['marks']:,}",
            _s(drain, sessions["drain_bound_s"]) + ("" if sessions["kept_up"] else " (behind)"),
            _n(sessions["catch_up_events_per_s"]), _n(sessions["folded_per_cpu_s"]), reads,
            _cores(sessions["cores"], "celery", "postgres_celery")]  # fmt: skip


def sessions_table(results: Results) -> list[list[str]]:
    """Each phase's session lag, fold throughput, backlog and catch-up."""
    rows = [["Phase", "Ingested events/s", "Folded events/s", "Lag p50", "Lag p95", "Lag max",
             "Markers (never seen)", "Behind at stop: events / marks", "Caught up after",
             "Catch-up events/s", "Events per worker CPU-s", "Rows read per event (by seq. scans)",
             "CPU cores: worker / its PG"]]  # fmt: skip
    phases = [phase for phase in results["phases"] if phase.get("sessions")]
    return rows + [sessions_row(p["name"], p["events_per_s"], p["sessions"]) for p in phases]


def _ceiling_lines(results: Results) -> list[str]:
    roof, value, per_cpu = results["ceiling"], results.get("ratio"), results.get("cpu_ratio")
    runs, batched = len(roof.get("runs_rows_per_s", [0])), roof["per_batch"]
    lines = [f"Ceiling, raw COPY as the owner ({roof['rows']:,} rows, one transaction, best of "
             f"{runs}): {roof['rows_per_s']:,.0f} rows/s, {_n(ceiling_per_cpu_second(results))} "
             "rows per CPU-s (client + PostgreSQL)",
             f"Raw COPY with a COMMIT per {batched['batch']:,} rows: "
             f"{batched['rows_per_s']:,.0f} rows/s"]  # fmt: skip
    filled, thousand = roof.get("filled"), _phase(results, 1000, "closed")
    if filled and filled["rows_per_s"]:
        over = thousand and thousand["events_per_s"] / filled["rows_per_s"]
        lines.append("Raw COPY (one transaction, one run) into a partitioned copy holding the "
                     f"{filled['rows_held']:,} rows the events table held when the 1,000-event "
                     f"phase began: {filled['rows_per_s']:,.0f} rows/s"
                     + (f" (end-to-end over it: {over:.0%})" if thousand else ""))  # fmt: skip
    spent = machine_cpu(thousand)
    if spent is not None:
        lines.append(f"The whole machine's CPU per event (1,000-event batches): {spent[0]:.1f} µs "
                     "(cores: app workers / their PostgreSQL / fold worker / its PostgreSQL "
                     f"{' / '.join(f'{part:.2f}' for part in spent[1])})")  # fmt: skip
    ratios = [("not measured" if r is None else f"{r:.0%}") for r in (value, per_cpu)]
    return [*lines, "Ratio, end-to-end events/s (1,000-event batches) / ceiling rows/s: "
            f"{ratios[0]}; per CPU-second: {ratios[1]}"]  # fmt: skip


def other_load(results: Results) -> tuple[float, str]:
    """The most cores other processes used during a phase (machine minus ours), and where."""
    worst, where = 0.0, ""
    for phase in results["phases"]:
        cpu = phase.get("cpu_cores") or {}
        if cpu.get("machine") is not None and cpu.get("postgres") is not None:
            ours = cpu["app_workers"] + cpu["postgres"] + cpu.get("load_generator", 0.0)
            ours += (cpu.get("celery") or 0.0) + (cpu.get("postgres_celery") or 0.0)
            if cpu["machine"] - ours > worst:
                worst, where = cpu["machine"] - ours, phase["name"]
    return round(worst, 2), where


def _contention(results: Results) -> str:
    cores, where = other_load(results)
    return render("contention", cores=f"{cores:.2f}", where=where) if cores >= 0.25 else ""


def summary(results: Results) -> str:
    """The run's tables, ceiling and verdicts, for the terminal."""
    sessions = sessions_table(results)
    contention = [line.strip() for line in _contention(results).split("\n")[1:]]
    verdicts = [f"[{_verdict(t['passed'])}] {t['target']}: {t['measured']}"
                for t in results["targets"]]  # fmt: skip
    tables = [_md(phases_table(results)), *([_md(sessions)] if len(sessions) > 1 else [])]
    return "\n\n".join([*tables, "\n".join([*_ceiling_lines(results), *contention]), *verdicts])


# docs/performance.md ----------------------------------------------------------------------


def _machine(machine: Results) -> str:
    before, after = (" / ".join(map(str, machine.get(f"load_average_{when}") or []))
                     for when in ("before", "after"))  # fmt: skip
    return (f"{machine['cpus']} CPUs ({machine['cpu_model']}), {machine['ram_gib']} GiB RAM, "
            f"Linux {machine['kernel']}; load average (1 / 5 / 15 min) before the run {before}"
            + (f", after it {after}" if after else ""))  # fmt: skip


def _sessions(results: Results) -> str:
    if not (info := results.get("sessions")):
        return ""
    after = []
    if peak := results["memory"].get("celery_peak_rss_mb"):
        mbs = " / ".join(f"{mb:.0f}" for mb in peak)
        after.append(f"Peak RSS of the worker's processes (main, pool): {mbs} MB.  ")
    if info.get("consistency"):
        watched = [phase for phase in results["phases"] if phase.get("sessions")]
        drained = not watched or watched[-1]["sessions"]["drain_s"] is not None
        after += [consistency_line(info["consistency"], drained=drained) + ".", ""]
    if info.get("probe_failures"):
        after.append(f"Probe failures: {info['probe_failures']} ({'; '.join(info['errors'])})")
    return section("sessions", worker=info["worker"], settings=results["server"]["settings"],
                   marker_events=MARKER_EVENTS, interval=f"{info['probe_interval_s']:g}",
                   bound=f"{info['drain_bound_s']:.0f}", table=_md(sessions_table(results)),
                   after="\n".join(after))  # fmt: skip


def _run(run: Results) -> str:
    data, machine = run["dataset"], run["machine"]
    return render("run", machine=_machine(machine), postgresql=machine["postgresql"],
                  command=run["command"], date=run["date"], commit=run["commit"],
                  database=data["database"], events=f"{data['events']:,}", days=data["days"],
                  sessions=f"{data['sessions']:,}", end=data["end"][:10], seed=data["seed"],
                  table_size=data["table_size"],
                  load_seconds=f"{data['load_seconds']:,.0f}")  # fmt: skip


def _step_label(conditions: list[Results]) -> str:
    """`page.view /cart`, `page.view /products/…`: a funnel step's conditions, shortly."""
    parts = []
    for condition in conditions:
        value, op = str(condition.get("value")), condition.get("op")
        other = f"{condition.get('field')} {op} {value}"
        parts.append(value + "…" if op == "prefix" else value if op == "eq" else other)
    return " ".join(parts)


def _funnel(funnel: Results | None) -> str:
    if not funnel:
        return ""
    rows = [["Funnel", "Steps", "Cold, s", "Warm runs, s", "Best warm, s", "Median warm, s",
             "Target (best warm)", "Sessions reaching each step"]]  # fmt: skip
    for entry in funnel["funnels"]:
        target = float(entry.get("target_s", funnel.get("target_s", FUNNEL_TARGET_S)))
        rows.append([f"`{entry['name']}` ({entry.get('unit', 'session')})",
                     " → ".join(_step_label(step) for step in entry.get("steps", [])),
                     f"{entry['cold_s']:.2f}", ", ".join(f"{s:.2f}" for s in entry["warm_s"]),
                     f"{entry['best_s']:.2f}", f"{entry['median_s']:.2f}",
                     f"≤ {target:g} s: {_verdict(entry['meets_target'])}",
                     entry.get("funnel", "")])  # fmt: skip
    return section("funnel", run=_run(funnel), table=_md(rows))


def _journeys(journeys: Results | None) -> str:
    if not journeys:
        return ""
    fold, beat, metrics = journeys["fold"], journeys["refresh_org"], journeys["metrics_only"]
    limit, cpus = journeys.get("target_s", REFRESH_TARGET_S), journeys["machine"]["cpus"]
    rows = journeys["rows"]

    def row(step: Results, name: str, seconds: str, output: str, met: str = "") -> list[str]:
        cpu = step.get("cpu_s") or {}
        parts = cpu.get("client"), cpu.get("postgres")
        spent = " / ".join("—" if part is None else f"{part:,.1f}" for part in parts)
        loads = f"{step['load_average_before'][0]} → {step['load_average_after'][0]}"
        return [name, seconds, spent, output, met, loads]

    steps = [["Step", "Seconds", "CPU s: this process / its PostgreSQL", "Throughput / rows",
              f"≤ {limit:g} s", "Load average (1 min)"],
             row(fold, f"fold every session, {fold['batch']} per transaction (`sessions_fold`, "
                 "journeys matched too)", f"{fold['seconds']:,.1f} (listing {fold['list_s']:.1f})",
                 f"{fold['events_per_s']:,.0f} events/s, "
                 f"{fold['sessions_per_s']:,.0f} sessions/s")]  # fmt: skip
    for run in journeys["refresh"]:
        name = (f"`journeys_refresh_project`, {run['run']} run (every session re-matched, "
                "then metrics)")  # fmt: skip
        written, seconds = f"{run['rows_written']:,} journey rows written", f"{run['seconds']:.1f}"
        steps.append(row(run, name, seconds, written, _verdict(run["seconds"] <= limit)))
    steps += [row(beat, "beat: `journeys.refresh_org`, after them (pending sessions re-matched, "
                  "every metric)", f"{beat['seconds']:.2f}",
                  f"{beat['pending_rows']:,} pending rows, {beat['rows_rematched']:,} re-matched"),
              row(metrics, "metrics alone (`journeys_refresh_project(rematch=False)`)",
                  f"{metrics['seconds']:.2f}", "")]  # fmt: skip
    by_journey = [["Journey", "Sessions in it", *_STATUSES]] + [
        [f"`{key}`", f"{sum(counts.values()):,}", *(f"{counts.get(s, 0):,}" for s in _STATUSES)]
        for key, counts in rows["journeys"].items()]  # fmt: skip
    busiest = max(max(step["load_average_before"][0], step["load_average_after"][0])
                  for step in (fold, beat, metrics, *journeys["refresh"]))  # fmt: skip
    shared = section("journeys_shared", busiest=f"{busiest:g}", cpus=cpus) if busiest > cpus else ""
    counted = rows["events_counted"] == journeys["dataset"]["events"]
    return section("journeys", run=_run(journeys), steps=_md(steps), by_journey=_md(by_journey),
                   shared=shared, session_rows=f"{rows['session_rows']:,}",
                   events_counted=f"{rows['events_counted']:,}",
                   counted=" (every loaded event)." if counted
                   else " — NOT every loaded event.")  # fmt: skip


def _soak(results: Results, *, carried: bool) -> str:
    soak = results["memory"]["soak"]
    workers, celery = soak["workers"], soak.get("celery") or []
    names = [str(n) for n in range(1, len(workers) + 1)]
    names += [f"Celery {'main' if n == 0 else f'pool {n}'}" for n in range(len(celery))]
    rows = [["Worker", "First, MB", "Last, MB", "Growth", "Peak, MB"]]
    for name, w in zip(names, [*workers, *celery], strict=True):
        growth = f"{w['growth_mb']:+.1f} MB ({w['growth_pct']:+.1f} %)"
        rows.append(
            [name, f"{w['first_mb']:.1f}", f"{w['last_mb']:.1f}", growth, f"{w['peak_mb']:.1f}"]
        )
    batches = [soak["batch"]] if isinstance(soak["batch"], int) else soak["batch"]
    head = {key: results[key] for key in ("command", "date", "commit")}
    return section("soak", carried=section("soak_carried", **head) if carried else "",
                   seconds=soak["seconds"], mix=", ".join(f"{size:,}" for size in batches),
                   events_per_s=f"{soak['events_per_s']:,.0f}", span=soak["span_s"],
                   restarts=soak["worker_restarts"], table=_md(rows))  # fmt: skip


def markdown(results: Results, *, previous_soak: Results | None = None,
             funnel: Results | None = None, journeys: Results | None = None) -> str:  # fmt: skip
    """docs/performance.md's generated part: the options, the run, its tables and targets;
    with the last `bench.funnel` / `bench.journeys` results, and the last soak's if none."""
    machine, server, load = results["machine"], results["server"], results["load"]
    every = [*results["targets"], *funnel_targets(funnel), *journeys_targets(journeys)]
    verdicts = [[t["target"], t["measured"], "figure" if t.get("figure") else _verdict(t["passed"])]
                for t in every]  # fmt: skip
    soak = _soak(results, carried=False) if results["memory"]["soak"] else ""
    if not soak and previous_soak and previous_soak.get("memory", {}).get("soak"):
        soak = _soak(previous_soak, carried=True)
    worker, contention = (results.get("sessions") or {}).get("worker"), _contention(results)
    software = ", ".join(
        f"{name} {machine[name.lower()]}" for name in ("Django", "gunicorn", "psycopg")
    )
    page = render(
        "page", options="\n".join(options.markdown_table()), machine=_machine(machine),
        software=f"PostgreSQL {machine['postgresql']}, Python {machine['python']}, {software}",
        command=results["command"], date=results["date"], commit=results["commit"],
        server=server["command"], settings=server["settings"], conn_max_age=server["conn_max_age"],
        load=f"{load['clients']} clients, {load['duration_s']:.0f} s measured per phase after "
        f"{load['warmup_s']:.0f} s of warm-up", soak=soak,
        sessions_item=f"- **Sessions:** `{worker}` alongside gunicorn\n" if worker else "",
        phases=_md(phases_table(results)), contention=contention and contention + "\n\n",
        ceiling="\n".join(f"{line}  " for line in _ceiling_lines(results)),
        sessions=_sessions(results), funnel=_funnel(funnel), journeys=_journeys(journeys),
        targets=_md([["Target", "Measured", "Result"], *verdicts]),
    )  # fmt: skip
    return page.rstrip("\n") + "\n"


def companions(data_dir: Path) -> dict[str, Results | None]:
    """The last `bench.funnel` and `bench.journeys` results, for `markdown()`'s keywords."""
    return {name: load_json(data_dir / f"{name}.json") for name in ("funnel", "journeys")}


def write_page(results: Results, data_dir: Path, docs_dir: str) -> Path:
    """Rewrite `<docs_dir>/performance.md` below its marker (what is above it stays)."""
    path = BASE_DIR / docs_dir / "performance.md"
    head = (path.read_text() if path.exists() else "# Performance\n\n").split(MARKER)[0]
    soak = None if results["memory"]["soak"] else load_json(data_dir / "soak.json")
    page = markdown(results, previous_soak=soak, **companions(data_dir))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{MARKER}\n\n{page}")
    return path


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.report`: rewrite docs/performance.md from the last results."""
    args = options.parse(options.REPORT, argv, __doc__.split("\n")[0])
    data_dir = Path(os.environ.get("PRODUCTGRAPH_DATA_DIR", BASE_DIR / ".data")) / "bench"
    if (results := load_json(data_dir / "results.json")) is None:
        print(f"no results in {data_dir}; run `make bench` first")
        return 1
    if args.docs:
        print(f"written: {write_page(results, data_dir, args.docs_dir)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
