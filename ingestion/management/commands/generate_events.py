"""`generate_events --project proj_x --sessions N [--days D] [--seed S]`: demo / benchmark data."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

from django.core.management.base import CommandError
from django.utils import timezone
from tqdm import tqdm

from ingestion.generator import generate_batches
from ingestion.management.bulk import Chunk, IngestProcessError, shards_ingest
from orgs.selectors import project_find_in_all_orgs
from productgraph.management.base import OpsCommand, int_between

MAX_SESSIONS = 10_000_000
MAX_DAYS = 3650
# Measured on this 2-core machine, ~100,000 events a run, nothing else running: 2 forked
# processes of 1 thread 27,000-29,000 events/s; 2 of 2 threads 25,000-27,000; 1 process
# of 2 threads 17,000-20,000 (the GIL serializes generation and validation).
PROCESSES = 2
WORKERS = 1


class _Progress:
    """A progress bar by sessions, made on the first update (after the processes forked)."""

    def __init__(self, *, total: int) -> None:
        self.total = total
        self.events = 0
        self.bar: tqdm | None = None

    def update(self, sessions: int, events: int) -> None:
        if self.bar is None:
            self.bar = tqdm(total=self.total, unit="session", disable=None, leave=False)
        self.events += events
        self.bar.set_postfix_str(f"{self.events:,} events", refresh=False)
        self.bar.update(sessions)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.close()


class Command(OpsCommand):
    help = (
        "Generate realistic sessions (pages, clicks, API calls, errors, web vitals, checkout "
        "and onboarding journeys) over the last D days, through the normal write path."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project public id (proj_...)")
        parser.add_argument(
            "--sessions",
            type=int_between(1, MAX_SESSIONS),
            required=True,
            help="sessions to generate",
        )
        parser.add_argument(
            "--days", type=int_between(1, MAX_DAYS), default=7, help="spread over the last D days"
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="same seed, same events (random if omitted)"
        )

    def handle(self, *args, **options):
        sessions, days = options["sessions"], options["days"]
        seed = options["seed"] if options["seed"] is not None else secrets.randbits(32)
        project = project_find_in_all_orgs(public_id=options["project"])
        if project is None:
            raise CommandError(f"no project with public id {options['project']!r}")
        retention = project.org.retention_days
        if days > retention:  # validation would refuse the older events as too old
            raise CommandError(
                f"--days {days} is beyond the organization's retention of {retention} days"
            )

        now = timezone.now()

        def shard_chunks(shard: int) -> Iterator[Chunk]:
            for batch in generate_batches(
                sessions=sessions,
                days=days,
                seed=seed,
                now=now,
                project_id=project.public_id,
                shard=shard,
                shards=PROCESSES,
            ):
                yield Chunk(
                    events=batch.events, user_agent=batch.user_agent, sessions=batch.sessions
                )

        started = time.perf_counter()
        try:
            with _Progress(total=sessions) as progress:
                report = shards_ingest(
                    project=project,
                    shard_chunks=shard_chunks,
                    shards=PROCESSES,
                    workers=WORKERS,
                    on_progress=progress.update,
                )
        except IngestProcessError as exc:
            raise CommandError(f"{exc} (what was committed stays; --seed {seed} resumes)") from exc
        seconds = time.perf_counter() - started
        events = report.accepted + report.rejected
        rate = events / seconds if seconds else 0.0
        self.emit(
            f"{project.public_id}: {sessions} sessions, {events} events "
            f"({report.inserted} new, {report.duplicates} duplicates, {report.rejected} rejected) "
            f"in {seconds:.1f} s ({rate:,.0f} events/s), seed {seed}",
            {
                "project": project.public_id,
                "sessions": sessions,
                "events": events,
                "inserted": report.inserted,
                "duplicates": report.duplicates,
                "rejected": report.rejected,
                "seconds": round(seconds, 3),
                "events_per_second": round(rate),
                "seed": seed,
                "days": days,
            },
        )
