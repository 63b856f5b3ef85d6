"""What `generate_events` and `import_events` share: chunks through the one write path.

Each chunk (at most 1,000 events, the API's batch limit) goes through
`ingestion.services.events_ingest` — the validation, deduplication and COPY path of
POST /v1/events — in its own transaction inside the project's org context, so a large
run commits as it goes and a failure loses only the chunks in flight; running it again
stores only what is missing, since event ids deduplicate.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

import msgspec
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from ingestion.body import MAX_EVENTS, decode_event, json_problem
from ingestion.services import IngestResult, events_ingest
from ingestion.validation import INVALID
from ingestion.validation import Project as ValidationProject
from orgs.models import Project
from productgraph.tenancy.context import org_context

# Threads `import_events` writes with, each on its own connection: one validates in Python
# while another waits for PostgreSQL. Measured on 2 cores (120,000 generated events): 1
# thread ~15,000 events/s, 2 ~17,000-20,000, 3 or 4 no better. Forked processes
# (`shards_ingest`) do better still, but need input each process can read on its own.
WORKERS = 2
MAX_REPORTED_ERRORS = 1000
# A line longer than this is reported and skipped without being held in memory whole; an
# event itself may be at most 100 KB serialized (events.md).
MAX_LINE_BYTES = 1024 * 1024
_BOM = b"\xef\xbb\xbf"


class IngestProcessError(RuntimeError):
    """A forked ingest process failed or died; the chunks it committed stay stored."""


@dataclass(frozen=True)
class Chunk:
    """Events sent together: one User-Agent; for an import, their line numbers and errors."""

    events: list[Any]
    user_agent: str | None = None
    lines: list[int] | None = None  # 1-based line number of each event
    errors: list[dict[str, Any]] = field(default_factory=list)  # found before validation
    sessions: int = 0  # whole sessions in the chunk (generated data)
    bytes_read: int = 0  # input consumed by this chunk (imports)


@dataclass
class BulkReport:
    """Totals over every chunk, and the first MAX_REPORTED_ERRORS errors."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_omitted: int = 0

    @property
    def inserted(self) -> int:
        """Events stored by this run (accepted minus duplicates)."""
        return self.accepted - self.duplicates

    def add_errors(self, errors: list[dict[str, Any]]) -> None:
        room = MAX_REPORTED_ERRORS - len(self.errors)
        self.errors.extend(errors[: max(room, 0)])
        self.errors_omitted += max(len(errors) - max(room, 0), 0)

    def merge(self, other: BulkReport) -> None:
        """Add another report's totals and errors to this one."""
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.add_errors(other.errors)
        self.errors_omitted += other.errors_omitted

    def add(self, chunk: Chunk, result: IngestResult) -> None:
        """Count one chunk's result; errors carry line numbers when the chunk has them."""
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self.rejected += result.rejected + len(chunk.errors)
        errors = list(chunk.errors)
        if chunk.lines is not None:
            errors.extend(
                {"line": chunk.lines[e["index"]], **{k: v for k, v in e.items() if k != "index"}}
                for e in result.errors
            )
            errors.sort(key=lambda e: e["line"])
        else:
            errors.extend(result.errors)
        self.add_errors(errors)


def chunks_ingest(
    *,
    project: Project,
    chunks: Iterable[Chunk],
    on_chunk: Callable[[Chunk, IngestResult], None] | None = None,
    workers: int = 1,
) -> BulkReport:
    """Ingest each chunk in its own transaction, inside the project's org; return totals.

    With `workers` > 1, chunks are written by that many threads, each on its own database
    connection: one thread validates in Python while another waits for PostgreSQL. Inside
    an outer transaction (a test) the chunks are written one by one on the caller's
    connection instead, since other connections could not see its uncommitted rows.
    Results are counted in chunk order either way.
    """
    target = ValidationProject(public_id=project.public_id, slug=project.slug)
    report = BulkReport()

    def ingest(chunk: Chunk) -> IngestResult:
        if len(chunk.events) > MAX_EVENTS:
            raise ValueError(f"a chunk holds at most {MAX_EVENTS} events")
        if not chunk.events:  # only blank or unreadable lines: nothing to send
            return IngestResult(accepted=0, duplicates=0, rejected=0)
        return _ingest(project, target, chunk)

    def count(chunk: Chunk, result: IngestResult) -> None:
        report.add(chunk, result)
        if on_chunk is not None:
            on_chunk(chunk, result)

    if workers <= 1 or connection.in_atomic_block:
        for chunk in chunks:
            count(chunk, ingest(chunk))
        return report

    opened: list[BaseDatabaseWrapper] = []

    def track_connection() -> None:
        # Closed by the calling thread once the pool has stopped (see below).
        wrapper = connections[DEFAULT_DB_ALIAS]
        wrapper.inc_thread_sharing()
        opened.append(wrapper)

    pending: deque[tuple[Chunk, Future[IngestResult]]] = deque()
    pool = ThreadPoolExecutor(max_workers=workers, initializer=track_connection)
    try:
        for chunk in chunks:
            pending.append((chunk, pool.submit(ingest, chunk)))
            while len(pending) > workers or (pending and pending[0][1].done()):
                done_chunk, future = pending.popleft()
                count(done_chunk, future.result())
        while pending:
            done_chunk, future = pending.popleft()
            count(done_chunk, future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for wrapper in opened:
            wrapper.close()
            wrapper.dec_thread_sharing()
    return report


def shards_ingest(
    *,
    project: Project,
    shard_chunks: Callable[[int], Iterable[Chunk]],
    shards: int,
    workers: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> BulkReport:
    """Ingest `shards` independent streams of chunks, each in its own forked process.

    `shard_chunks(n)` makes shard n's chunks inside its process, so nothing but counts
    crosses between processes; each process writes with `workers` threads (see
    `chunks_ingest`). `on_progress(sessions, events)` is called in this process after each
    chunk. Inside an outer transaction (a test) the shards run one after another here.
    Processes sidestep the GIL: validation in Python and COPY then use both cores.
    """
    report = BulkReport()

    def progress(chunk: Chunk, _result: IngestResult) -> None:
        if on_progress is not None:
            on_progress(chunk.sessions, len(chunk.events))

    if shards <= 1 or connection.in_atomic_block:
        for shard in range(shards):
            report.merge(
                chunks_ingest(
                    project=project,
                    chunks=shard_chunks(shard),
                    on_chunk=progress,
                    workers=workers,
                )
            )
        return report

    context = multiprocessing.get_context("fork")
    messages: multiprocessing.Queue[tuple[Any, ...]] = context.Queue()

    def run(shard: int) -> None:
        try:
            result = chunks_ingest(
                project=project,
                chunks=shard_chunks(shard),
                on_chunk=lambda chunk, _r: messages.put(
                    ("chunk", chunk.sessions, len(chunk.events))
                ),
                workers=workers,
            )
            messages.put(("done", result))
        except BaseException as exc:
            messages.put(("failed", f"{type(exc).__name__}: {exc}"))
        finally:
            connections.close_all()

    connections.close_all()  # a forked child must never share the parent's connection
    processes = [
        context.Process(target=run, args=(shard,), name=f"ingest-{shard}", daemon=True)
        for shard in range(shards)
    ]
    for process in processes:
        process.start()
    finished = 0
    try:
        while finished < shards:
            try:
                message = messages.get(timeout=1.0)
            except queue.Empty:
                # Killed (a negative exit code), or gone without a word: stop waiting for it.
                exits = [process.exitcode for process in processes]
                if any(code not in (None, 0) for code in exits) or None not in exits:
                    raise IngestProcessError("an ingest process died without reporting") from None
                continue
            if message[0] == "chunk":
                if on_progress is not None:
                    on_progress(message[1], message[2])
            elif message[0] == "done":
                report.merge(message[1])
                finished += 1
            else:
                raise IngestProcessError(f"an ingest process failed: {message[1]}")
    finally:
        for process in processes:
            if finished < shards and process.is_alive():
                process.terminate()
            process.join()
    return report


def _ingest(project: Project, target: ValidationProject, chunk: Chunk) -> IngestResult:
    with transaction.atomic(), org_context(project.org_id):
        return events_ingest(
            org_id=project.org_id,
            project_id=project.pk,
            project=target,
            events=chunk.events,
            received_at=timezone.now(),
            retention_days=project.org.retention_days,
            user_agent=chunk.user_agent,
        )


def _read_line(stream: IO[bytes]) -> tuple[bytes, int, bool]:
    """Read one line of at most MAX_LINE_BYTES; return it, the bytes consumed, too_long."""
    line = stream.readline(MAX_LINE_BYTES + 1)
    consumed = len(line)
    if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
        return line, consumed, False
    while line and not line.endswith(b"\n"):  # skip the rest of an over-long line
        line = stream.readline(MAX_LINE_BYTES)
        consumed += len(line)
    return b"", consumed, True


def ndjson_chunks(stream: IO[bytes], *, lines_per_chunk: int = MAX_EVENTS) -> Iterator[Chunk]:
    """Read newline-delimited JSON (one event a line) in chunks of `lines_per_chunk` lines.

    Blank lines are skipped; a line that is not JSON, or too long, becomes an error of that
    line (`{"line", "field": None, "message"}`) instead of an event. Anything that is JSON
    but not a valid event is left for validation to report.
    """
    number = 0
    first = True
    while True:
        events: list[Any] = []
        lines: list[int] = []
        errors: list[dict[str, Any]] = []
        consumed = 0
        for _ in range(lines_per_chunk):
            line, size, too_long = _read_line(stream)
            if not size:
                break
            consumed += size
            number += 1
            if first:
                line = line.removeprefix(_BOM)
                first = False
            if too_long:
                errors.append(
                    {
                        "line": number,
                        "field": None,
                        "code": INVALID,
                        "message": f"the line is longer than {MAX_LINE_BYTES} bytes",
                    }
                )
                continue
            if not line.strip():
                continue
            try:
                event = decode_event(line)
            except msgspec.DecodeError as exc:
                message = f"invalid JSON: {json_problem(line, exc)}"
                errors.append({"line": number, "field": None, "code": INVALID, "message": message})
                continue
            except (UnicodeDecodeError, RecursionError) as exc:
                message = f"invalid JSON: {exc}"
                errors.append({"line": number, "field": None, "code": INVALID, "message": message})
                continue
            events.append(event)
            lines.append(number)
        if not consumed:
            return
        yield Chunk(events=events, lines=lines, errors=errors, bytes_read=consumed)
