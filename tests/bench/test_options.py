"""The one option table of `make bench`, `make soak` and `make chaos`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import options

BASE_DIR = Path(__file__).resolve().parents[2]


def test_each_command_parses_its_options_from_the_environment(monkeypatch):
    for option in options.OPTIONS:
        monkeypatch.delenv(option.env, raising=False)
    monkeypatch.setenv("BENCH_DURATION", "2.5")
    monkeypatch.setenv("BENCH_FUNNEL_KEEP", "1")
    monkeypatch.setenv("BENCH_JOURNEY_REUSE", "yes")  # only "1" switches on
    monkeypatch.setenv("BENCH_DRAIN", "")  # empty: the default
    bench = options.parse(options.BENCH, [])
    assert (bench.duration, bench.workers, bench.drain, bench.docs, bench.strict) == (
        2.5, None, 60.0, True, False
    )  # fmt: skip
    assert options.parse(options.BENCH, ["--duration=4"]).duration == 4.0
    assert options.parse(options.SOAK, []).drain == 180.0
    assert options.parse(options.FUNNEL, []).keep is True
    assert options.parse(options.JOURNEYS, []).reuse is False
    assert options.parse(options.CHAOS, []).visibility_timeout == 10.0


def test_command_line_names_the_variables_set(monkeypatch):
    monkeypatch.delenv("MAKELEVEL", raising=False)
    for option in options.OPTIONS:
        monkeypatch.delenv(option.env, raising=False)
    monkeypatch.setenv("BENCH_SOAK_SECONDS", "60")
    assert options.command_line(options.SOAK, ["--probe=5"]) == (
        "BENCH_SOAK_SECONDS=60 python -m bench.soak --probe=5"
    )
    monkeypatch.setenv("MAKELEVEL", "1")
    assert options.command_line(options.SOAK, []) == "BENCH_SOAK_SECONDS=60 make soak"


def test_every_variable_the_makefile_readme_or_docs_name_is_in_the_table():
    texts = [BASE_DIR / "Makefile", BASE_DIR / "README.md", *(BASE_DIR / "docs").rglob("*.md")]
    named = {name for path in texts for name in re.findall(r"\bBENCH_[A-Z_]+\b", path.read_text())}
    known = {option.env for option in options.OPTIONS}
    assert named - known == set()
    table = "\n".join(options.markdown_table())
    assert all(f"`{name}`" in table for name in known)


@pytest.mark.parametrize("command", [options.BENCH, options.SOAK, options.CHAOS, options.FUNNEL])
def test_no_command_has_two_rows_for_one_flag(command):
    names = [option.name for option in options.options(command)]
    assert len(names) == len(set(names))
