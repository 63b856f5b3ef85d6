"""The base of every ops command: `--json` output and one-line errors (operations.md)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class OpsCommand(BaseCommand):
    """A management command that prints a human summary, or one JSON object with --json."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        return parser

    def execute(self, *args, **options):
        self.as_json = bool(options.get("json"))
        self.emitted = False
        try:
            return super().execute(*args, **options)
        except CommandError as exc:
            if self.as_json and not self.emitted:
                self.stdout.write(
                    json.dumps({"error": {"code": "command_error", "message": str(exc)}})
                )
            raise

    def emit(self, summary: str, payload: dict[str, Any]) -> None:
        """Print `summary` for people, or `payload` as one JSON object with --json."""
        self.emitted = True
        if self.as_json:
            self.stdout.write(json.dumps(payload, default=str))
        else:
            self.stdout.write(summary)
