"""The base of every ops command: `--json` output and one-line errors (operations.md)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils.dateparse import parse_datetime

# What an operator's environment or input can raise past a command's own checks: shown as one
# line (operations.md: "Errors exit non-zero with one clear line"), unless --traceback.
_ENVIRONMENT_ERRORS = (DatabaseError, OSError, UnicodeError)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def int_between(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`; anything else is a usage
    error (exit 2, operations.md), like a missing argument."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, not {value}")
        return value

    return parse


def aware_datetime(text: str) -> datetime:
    """An argparse type: an ISO 8601 time with an offset."""
    try:
        parsed = parse_datetime(text)
    except ValueError:  # well formed, but no such date (month 13, hour 25)
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"must be an ISO 8601 time with an offset, not {text!r}")
    return parsed


class OpsCommand(BaseCommand):
    """A management command that prints a human summary, or one JSON object with --json."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        if parser.called_from_command_line:  # call_command keeps Django's CommandError

            def one_line_error(message: str) -> NoReturn:
                # argparse prints its usage, then the error: one line instead (exit 2 still).
                line = _one_line(f"{message} (see {prog_name} {subcommand} --help)")
                if "--json" in sys.argv[2:]:
                    self.stdout.write(
                        json.dumps({"error": {"code": "command_error", "message": line}})
                    )
                self.stderr.write(f"CommandError: {line}")
                sys.exit(2)

            parser.error = one_line_error  # type: ignore[method-assign]
        return parser

    def execute(self, *args, **options):
        self.as_json = bool(options.get("json"))
        self.emitted = False
        try:
            try:
                return super().execute(*args, **options)
            except KeyboardInterrupt:
                raise CommandError(
                    "interrupted (what was committed stays)", returncode=130
                ) from None
            except _ENVIRONMENT_ERRORS as exc:
                if options.get("traceback"):
                    raise
                raise CommandError(f"{type(exc).__name__}: {exc}") from exc
        except CommandError as exc:
            message = _one_line(str(exc))
            if self.as_json and not self.emitted:
                self.stdout.write(
                    json.dumps({"error": {"code": "command_error", "message": message}})
                )
            raise CommandError(message, returncode=exc.returncode) from exc

    def emit(self, summary: str, payload: dict[str, Any]) -> None:
        """Print `summary` for people, or `payload` as one JSON object with --json."""
        self.emitted = True
        if self.as_json:
            self.stdout.write(json.dumps(payload, default=str))
        else:
            self.stdout.write(summary)
