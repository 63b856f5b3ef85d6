"""What `make soak` and `make chaos` conclude, as plain functions over plain data.

The ledger: the load generator (`python -m bench.load --retry --ledger PATH`) writes one
row per request — its event-id token (every event id of the request is `<token>-<position>`),
its outcome (`acked`: a 202; `lost`: some attempt went unanswered, so the server may have
stored it; `refused`: only error answers), how many events it sent and which positions the
server rejected. `account()` holds the ledger against what the database stored, counted per
token, and says whether every acknowledged event is stored exactly once and nothing else is.

A run's verdict is a list of `Check`s; each command prints them as a table, writes them to
JSON and rewrites its own section of docs/reliability-figures.md. Nothing here imports
Django or the app.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import report
from bench.load import ACKED, LOST

TOKEN_LENGTH = 20  # len(bench.events.TOKEN): an event id is "<token>-<position>"
BASE_DIR = Path(__file__).resolve().parent.parent
DOCS_PAGE = Path("docs") / "reliability-figures.md"
SECTIONS = ("soak", "chaos")
# (option, its environment variable, type, default, help)
Option = tuple[str, str, type, str, str]


def parser(
    prog: str, description: str, options: tuple[Option, ...], epilog: str | None = None
) -> argparse.ArgumentParser:
    """A command line whose options default to their environment variables."""
    cli = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog)
    for name, variable, kind, default, text in options:
        value = os.environ.get(variable, default)
        cli.add_argument(
            f"--{name}",
            type=kind,
            default=kind(value) if value else None,
            help=f"{text} [{variable}, default {default or 'see text'}]",
        )
    return cli


def command_line(argv: list[str], *, make: str, options: tuple[Option, ...]) -> str:
    """How a run was started (`make soak`, or the module and its arguments), knobs included."""
    knobs = " ".join(
        f"{option[1]}={os.environ[option[1]]}" for option in options if option[1] in os.environ
    )
    base = (
        f"make {make}"
        if os.environ.get("MAKELEVEL")
        else " ".join([f"python -m bench.{make}", *argv])
    )
    return f"{knobs} {base}".strip()


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
        lost, refused = set(), set()
        for token, ending, size, rejected in rows:
            if ending == ACKED:
                acked[token] = size - len(rejected)
            elif ending == LOST:
                lost.add(token)
            else:
                refused.add(token)
        return cls(acked=acked, lost=frozenset(lost), refused=frozenset(refused))

    @classmethod
    def read(cls, path: Path) -> Ledger:
        """Read a ledger file written by `python -m bench.load --ledger PATH`."""
        return cls.from_rows(json.loads(path.read_text())["requests"])

    def merged(self, other: Ledger) -> Ledger:
        """Both ledgers' requests (tokens are unique per run)."""
        return Ledger(
            acked={**self.acked, **other.acked},
            lost=self.lost | other.lost,
            refused=self.refused | other.refused,
        )

    @property
    def acked_events(self) -> int:
        """Distinct event ids acknowledged by a 202."""
        return sum(self.acked.values())


def account(
    ledger: Ledger, stored: Mapping[str, int], *, rows: int, distinct: int
) -> dict[str, Any]:
    """Hold the ledger against the rows stored per token (`rows` in all, `distinct` ids).

    Exact when every acknowledged event is stored, no event id twice, and every other
    stored row came from a request whose answer was lost (a retry would have found it).
    """
    missing = sum(max(0, count - stored.get(token, 0)) for token, count in ledger.acked.items())
    beyond = sum(max(0, stored.get(token, 0) - count) for token, count in ledger.acked.items())
    from_lost = sum(stored.get(token, 0) for token in ledger.lost)
    unexplained = sum(
        count
        for token, count in stored.items()
        if token not in ledger.acked and token not in ledger.lost
    )
    figures = {
        "acked_events": ledger.acked_events,
        "stored_rows": rows,
        "stored_distinct": distinct,
        "duplicate_rows": rows - distinct,
        "missing": missing,
        "beyond_acked": beyond,
        "from_lost_requests": from_lost,
        "unexplained": unexplained,
        "requests": {
            "acked": len(ledger.acked),
            "lost": len(ledger.lost),
            "refused": len(ledger.refused),
        },
    }
    figures["exact"] = (
        missing == 0
        and beyond == 0
        and unexplained == 0
        and rows == distinct
        and rows == ledger.acked_events + from_lost
    )
    return figures


def accounting_line(figures: Mapping[str, Any]) -> str:
    """The accounting in one line."""
    line = (
        f"{figures['acked_events']:,} event ids acknowledged, {figures['stored_rows']:,} rows "
        f"stored ({figures['duplicate_rows']:,} duplicate ids), {figures['missing']:,} "
        f"acknowledged but missing, {figures['unexplained']:,} stored without an ack"
    )
    if figures["from_lost_requests"]:
        line += f", {figures['from_lost_requests']:,} from requests whose answer was lost"
    return line


def status_counts_line(summary: Mapping[str, Any]) -> str:
    """Every attempt of a load run by status, and its retries, in one line."""
    attempts = ", ".join(
        f"{status}: {count:,}" for status, count in sorted(summary["attempts"].items())
    )
    return f"attempts: {attempts}; {summary['retries']:,} retries"


@dataclass(frozen=True)
class Check:
    """One pass/fail criterion and what was measured."""

    name: str
    passed: bool
    measured: str


def memory_check(name: str, rows: list[dict[str, Any]], *, limit_pct: float) -> Check:
    """Flat memory: every process's last-span mean RSS within `limit_pct` of its first."""
    if not rows:
        return Check(name, False, "no process was sampled over the whole run")
    worst = max(rows, key=lambda row: row["growth_pct"])
    per_process = ", ".join(f"{row['first_mb']:.1f} → {row['last_mb']:.1f} MB" for row in rows)
    return Check(
        name,
        worst["growth_pct"] <= limit_pct,
        f"{per_process} (worst {worst['growth_mb']:+.1f} MB, {worst['growth_pct']:+.1f} %; "
        f"limit +{limit_pct:g} %)",
    )


def passed(checks: Iterable[Check]) -> bool:
    """Whether every check passed."""
    return all(check.passed for check in checks)


def check_lines(checks: list[Check], *, title: str = "") -> list[str]:
    """The checks as a terminal table."""
    rows = [["check", "result", "measured"]]
    rows += [[check.name, "PASS" if check.passed else "FAIL", check.measured] for check in checks]
    return ([title] if title else []) + report._columns(rows)


def check_table(checks: list[Check]) -> list[str]:
    """The checks as a Markdown table."""
    rows = [["Check", "Result", "Measured"]]
    rows += [
        [check.name, "**pass**" if check.passed else "**FAIL**", check.measured.replace("|", "/")]
        for check in checks
    ]
    return report._table(rows)


def checks_json(checks: list[Check]) -> list[dict[str, Any]]:
    """The checks as JSON-ready dicts."""
    return [asdict(check) for check in checks]


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(value, 2) for value in os.getloadavg()]


# docs/reliability-figures.md: each command rewrites the section between its markers.

_HEAD = """# Reliability figures

The latest figures of `make soak` and `make chaos`, written by the commands themselves
(`bench/soak.py`, `bench/chaos.py`): each run rewrites its own section of this page and its
JSON under `.data/reliability/`. The two commands run the production server (gunicorn,
`config.settings.production`) and a real Celery worker under the ingestion load generator
(`python -m bench.load`, a separate process) with client retries on: a request that fails
with a connection error, a 5xx or a 429 is sent again, the same body and event ids, after its
`Retry-After`. Every event id is unique; the generator records the outcome of every request,
and the run holds that ledger against the rows PostgreSQL stored.

"""


def _section_markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def docs_page(
    existing: str, *, name: str, lines: list[str], order: tuple[str, ...] = SECTIONS
) -> str:
    """The page with section `name` replaced by `lines`, the other sections kept as they are."""
    sections: dict[str, str] = {}
    for other in order:
        start, end = _section_markers(other)
        found = re.search(re.escape(start) + r"\n(.*?)" + re.escape(end), existing, re.DOTALL)
        if found:
            sections[other] = found.group(1)
    sections[name] = "\n".join(lines).rstrip("\n") + "\n"
    parts = [_HEAD.rstrip("\n") + "\n"]
    for other in order:
        start, end = _section_markers(other)
        body = sections.get(other, f"Not run yet: `make {other}`.\n")
        parts.append(f"{start}\n{body}{end}\n")
    return "\n".join(parts)


def machine_line(results: Mapping[str, Any]) -> str:
    """The machine, the load average before/after and the commit of a run, as Markdown."""
    machine = results["machine"]
    return (
        f"- **Machine:** {machine['cpus']} CPUs ({machine['cpu_model']}), "
        f"{machine['ram_gib']} GiB RAM, Linux {machine['kernel']}, Python {machine['python']}, "
        f"PostgreSQL {machine['postgresql']}; load average (1 / 5 / 15 min) before "
        f"{' / '.join(str(value) for value in results['load_average_before'])}, after "
        f"{' / '.join(str(value) for value in results['load_average_after'])} (other work "
        "shared the machine)\n"
        f"- **Command:** `{results['command']}` on {results['date']}, commit {results['commit']}"
    )


def write_docs(name: str, lines: list[str]) -> Path:
    """Rewrite section `name` of docs/reliability-figures.md; return the page's path."""
    path = BASE_DIR / DOCS_PAGE
    existing = path.read_text() if path.exists() else ""
    path.write_text(docs_page(existing, name=name, lines=lines))
    return path
