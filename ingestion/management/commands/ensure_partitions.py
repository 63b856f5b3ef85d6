"""`ensure_partitions [--months-back N] [--months-ahead N]`: create monthly partitions ahead."""

from __future__ import annotations

from ingestion.partitions import MAX_MONTHS, partitions_ensure
from productgraph.management.base import OpsCommand, int_between


class Command(OpsCommand):
    help = (
        "Create the monthly partitions of the events table around now (UTC), each with its "
        "RLS policy. Idempotent; beat runs it every 6 hours (ingestion.ensure_partitions)."
    )

    def add_arguments(self, parser):
        months = int_between(0, MAX_MONTHS)
        parser.add_argument("--months-ahead", type=months, default=3, help="months after this one")
        parser.add_argument("--months-back", type=months, default=1, help="months before this one")

    def handle(self, *args, **options):
        ahead, back = options["months_ahead"], options["months_back"]
        result = partitions_ensure(months_back=back, months_ahead=ahead)
        created = ", ".join(result.created) or "none"
        self.emit(
            f"{len(result.partitions)} partitions present "
            f"({result.partitions[0]} to {result.partitions[-1]}); created: {created}",
            {"partitions": result.partitions, "created": result.created},
        )
