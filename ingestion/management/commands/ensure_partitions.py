"""`ensure_partitions [--months-back N] [--months-ahead N]`: create monthly partitions ahead."""

from __future__ import annotations

from django.core.management.base import CommandError

from ingestion.partitions import MAX_MONTHS, partitions_ensure
from productgraph.management.base import OpsCommand


class Command(OpsCommand):
    help = (
        "Create the monthly partitions of the events table around now (UTC), each with its "
        "RLS policy. Idempotent; beat runs it every 6 hours (ingestion.ensure_partitions)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--months-ahead", type=int, default=3, help="months after this one")
        parser.add_argument("--months-back", type=int, default=1, help="months before this one")

    def handle(self, *args, **options):
        ahead, back = options["months_ahead"], options["months_back"]
        for flag, value in (("--months-ahead", ahead), ("--months-back", back)):
            if not 0 <= value <= MAX_MONTHS:
                raise CommandError(f"{flag} must be between 0 and {MAX_MONTHS}")
        result = partitions_ensure(months_back=back, months_ahead=ahead)
        created = ", ".join(result.created) or "none"
        self.emit(
            f"{len(result.partitions)} partitions present "
            f"({result.partitions[0]} to {result.partitions[-1]}); created: {created}",
            {"partitions": result.partitions, "created": result.created},
        )
