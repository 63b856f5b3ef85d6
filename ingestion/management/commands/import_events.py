"""`import_events --project proj_x FILE.ndjson`: bulk import through the same validation."""

from __future__ import annotations

import os
import stat
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from typing import IO

from django.core.management.base import CommandError
from tqdm import tqdm

from ingestion.management.bulk import WORKERS, chunks_ingest, ndjson_chunks
from orgs.selectors import project_find_in_all_orgs
from productgraph.management.base import OpsCommand


def _open(path: str) -> AbstractContextManager[IO[bytes]]:
    """Open the file to import; '-' is standard input, which is left open."""
    return nullcontext(sys.stdin.buffer) if path == "-" else open(path, "rb")


def _size(stream: IO[bytes]) -> int | None:
    """Return the size of a regular file, for the progress bar; None for a pipe."""
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


class Command(OpsCommand):
    help = (
        "Import newline-delimited JSON, one event a line, through the validation and "
        "deduplication of POST /v1/events, 1,000 lines a transaction. Bad lines are reported "
        "with their line numbers and skipped; importing a file twice stores nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project public id (proj_...)")
        parser.add_argument("file", help="the .ndjson file ('-' for standard input)")

    def handle(self, *args, **options):
        project = project_find_in_all_orgs(public_id=options["project"])
        if project is None:
            raise CommandError(f"no project with public id {options['project']!r}")
        path = options["file"]
        started = time.perf_counter()
        try:
            with (
                _open(path) as stream,
                tqdm(
                    total=_size(stream), unit="B", unit_scale=True, disable=None, leave=False
                ) as bar,
            ):
                report = chunks_ingest(
                    project=project,
                    chunks=ndjson_chunks(stream),
                    on_chunk=lambda chunk, _result: bar.update(chunk.bytes_read),
                    workers=WORKERS,
                )
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from exc
        seconds = time.perf_counter() - started
        payload = {
            "project": project.public_id,
            "accepted": report.accepted,
            "duplicates": report.duplicates,
            "rejected": report.rejected,
            "errors": report.errors,
            "errors_omitted": report.errors_omitted,
            "seconds": round(seconds, 3),
        }
        lines = [
            f"{project.public_id}: {report.accepted} accepted ({report.inserted} new, "
            f"{report.duplicates} duplicates), {report.rejected} rejected in {seconds:.1f} s"
        ]
        lines += [
            f"line {e['line']}: {e['field'] + ': ' if e['field'] else ''}{e['message']}"
            for e in report.errors
        ]
        if report.errors_omitted:
            lines.append(f"... and {report.errors_omitted} more errors")
        self.emit("\n".join(lines), payload)
