"""What `make soak` and `make chaos` conclude, over plain data (no Django): the load
generator's ledger held against the rows stored per token, the checks, and the sections of
docs/reliability-figures.md."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.load import ACKED, LOST
from bench.report import BASE_DIR

TOKEN_LENGTH = 20  # len(bench.events.TOKEN): an event id is "<token>-<position>"
SECTIONS = ("soak", "chaos")


def interruptible() -> None:
    """Turn SIGTERM into SystemExit (as Ctrl-C is KeyboardInterrupt): `finally` blocks run."""

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


@dataclass(frozen=True)
class Ledger:
    """Events acknowledged per token, and the tokens whose answer was lost or refused."""

    acked: dict[str, int] = field(default_factory=dict)
    lost: frozenset[str] = frozenset()
    refused: frozenset[str] = frozenset()

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, int, list[int]] | list[Any]]) -> Ledger:
        """Build from the load generator's rows (token, outcome, events, rejected)."""
        acked: dict[str, int] = {}
        lost: set[str] = set()
        refused: set[str] = set()
        for token, ending, size, rejected in rows:
            if ending == ACKED:
                acked[token] = size - len(rejected)
            else:
                (lost if ending == LOST else refused).add(token)
        return cls(acked=acked, lost=frozenset(lost), refused=frozenset(refused))

    @classmethod
    def read(cls, path: Path) -> Ledger:
        """Read a ledger file written by `python -m bench.load --ledger PATH`."""
        return cls.from_rows(json.loads(path.read_text())["requests"])

    @property
    def acked_events(self) -> int:
        return sum(self.acked.values())


def account(
    ledger: Ledger, stored: Mapping[str, int], *, rows: int, distinct: int
) -> dict[str, Any]:
    """Hold the ledger against the rows stored per token (`rows` in all, `distinct` ids):
    exact when every acknowledged event is stored, no event id twice, and every other stored
    row came from a request whose answer was lost (a retry would have found it)."""
    missing = sum(max(0, count - stored.get(token, 0)) for token, count in ledger.acked.items())
    beyond = sum(max(0, stored.get(token, 0) - count) for token, count in ledger.acked.items())
    from_lost = sum(stored.get(token, 0) for token in ledger.lost)
    known = ledger.acked.keys() | ledger.lost
    unexplained = sum(count for token, count in stored.items() if token not in known)
    figures = {
        "acked_events": ledger.acked_events, "stored_rows": rows, "stored_distinct": distinct,
        "duplicate_rows": rows - distinct, "missing": missing, "beyond_acked": beyond,
        "from_lost_requests": from_lost, "unexplained": unexplained,
        "requests": {"acked": len(ledger.acked), "lost": len(ledger.lost),
                     "refused": len(ledger.refused)},
    }  # fmt: skip
    figures["exact"] = (missing == beyond == unexplained == 0 and rows == distinct
                        and rows == ledger.acked_events + from_lost)  # fmt: skip
    return figures


def accounting_line(figures: Mapping[str, Any]) -> str:
    line = (
        f"{figures['acked_events']:,} event ids acknowledged, {figures['stored_rows']:,} rows "
        f"stored ({figures['duplicate_rows']:,} duplicate ids), {figures['missing']:,} "
        f"acknowledged but missing, {figures['unexplained']:,} stored without an ack"
    )
    if figures["from_lost_requests"]:
        line += f", {figures['from_lost_requests']:,} from requests whose answer was lost"
    return line


@dataclass(frozen=True)
class Check:
    """One pass/fail criterion and what was measured."""

    name: str
    passed: bool
    measured: str


def passed(checks: Iterable[Check]) -> bool:
    return all(check.passed for check in checks)


def acked_check(name: str, summary: Mapping[str, Any]) -> Check:
    """Every request of a retrying load acknowledged in the end; its attempts by status."""
    outcomes = summary["outcomes"]
    unanswered = outcomes["lost"] + outcomes["refused"]
    attempts = ", ".join(f"{status}: {n:,}" for status, n in sorted(summary["attempts"].items()))
    return Check(name, unanswered == 0, f"{outcomes['acked']:,} acknowledged, {unanswered:,} not; "
                 f"attempts: {attempts}; {summary['retries']:,} retries")  # fmt: skip


def stored_check(name: str, figures: Mapping[str, Any]) -> Check:
    """Every acknowledged event stored exactly once (`account()`'s verdict)."""
    return Check(name, bool(figures["exact"]), accounting_line(figures))


def memory_check(name: str, rows: list[dict[str, Any]], *, limit_pct: float) -> Check:
    """Flat memory: every process's last-span mean RSS within `limit_pct` of its first."""
    if not rows:
        return Check(name, False, "no process was sampled over the whole run")
    worst = max(rows, key=lambda row: row["growth_pct"])
    per_process = ", ".join(f"{row['first_mb']:.1f} → {row['last_mb']:.1f} MB" for row in rows)
    return Check(name, worst["growth_pct"] <= limit_pct,
                 f"{per_process} (worst {worst['growth_mb']:+.1f} MB, {worst['growth_pct']:+.1f} "
                 f"%; limit +{limit_pct:g} %)")  # fmt: skip


def check_table(checks: list[Check]) -> list[str]:
    """The checks as a Markdown table (printed, and in the docs page)."""
    rows = ["| Check | Result | Measured |", "|---|---|---|"]
    return rows + [f"| {check.name} | {'**pass**' if check.passed else '**FAIL**'} | "
                   f"{check.measured.replace('|', '/')} |" for check in checks]  # fmt: skip


def checks_json(checks: list[Check]) -> list[dict[str, Any]]:
    return [asdict(check) for check in checks]


def machine_line(results: Mapping[str, Any]) -> str:
    """The machine, the load average before/after and the commit of a run, as Markdown."""
    machine = results["machine"]
    before, after = (" / ".join(map(str, results[f"load_average_{when}"]))
                     for when in ("before", "after"))  # fmt: skip
    return (
        f"- **Machine:** {machine['cpus']} CPUs ({machine['cpu_model']}), "
        f"{machine['ram_gib']} GiB RAM, Linux {machine['kernel']}, Python {machine['python']}, "
        f"PostgreSQL {machine['postgresql']}; load average (1 / 5 / 15 min) before {before}, "
        f"after {after} (other work shared the machine)\n"
        f"- **Command:** `{results['command']}` on {results['date']}, commit {results['commit']}"
    )


def docs_page(existing: str, *, name: str, lines: list[str]) -> str:
    """The page with section `name` replaced by `lines`; the rest of it kept as it is."""
    head = existing.split("<!-- ")[0].rstrip("\n") if "<!-- " in existing else None
    parts = [("# Reliability figures" if head is None else head) + "\n"]
    for other in SECTIONS:
        found = re.search(rf"<!-- {other}:start -->\n(.*?)<!-- {other}:end -->", existing, re.S)
        body = found.group(1) if found else f"Not run yet: `make {other}`.\n"
        body = "\n".join(lines).rstrip("\n") + "\n" if other == name else body
        parts.append(f"<!-- {other}:start -->\n{body}<!-- {other}:end -->\n")
    return "\n".join(parts)


def write_docs(name: str, lines: list[str], docs_dir: str) -> Path:
    """Rewrite section `name` of `<docs_dir>/reliability-figures.md`; return its path."""
    path = BASE_DIR / docs_dir / "reliability-figures.md"
    existing = path.read_text() if path.exists() else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(docs_page(existing, name=name, lines=lines))
    return path
