"""`purge_events [--org S] [--older-than DAYS]`: per-org retention of events and their keys."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.utils import timezone

from ingestion.retention import MAX_RETENTION_DAYS, events_purge, retention_cutoff
from orgs.selectors import organization_get, organization_list
from productgraph.management.base import OpsCommand, int_between


class Command(OpsCommand):
    help = (
        "Delete events (and their deduplication keys) older than each organization's "
        "retention_days, or --older-than DAYS, one org at a time inside its own org context. "
        "Dropping a whole old partition is left to an operator, as the owner role."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", default=None, help="only this organization (slug)")
        parser.add_argument(
            "--older-than",
            type=int_between(1, MAX_RETENTION_DAYS),
            default=None,
            help="days to keep (default: the org's)",
        )

    def handle(self, *args, **options):
        days = options["older_than"]
        if options["org"] is not None:
            org = organization_get(slug=options["org"])
            if org is None:
                raise CommandError(f"no organization with slug {options['org']!r}")
            orgs = [org]
        else:
            orgs = organization_list()
        now = timezone.now()
        reports = []
        for org in orgs:
            keep = days if days is not None else org.retention_days
            result = events_purge(org_id=org.pk, cutoff=retention_cutoff(now=now, days=keep))
            reports.append(
                {
                    "org": org.slug,
                    "days": keep,
                    "cutoff": result.cutoff.isoformat(),
                    "events": result.events,
                    "keys": result.keys,
                }
            )
        lines = [
            f"{r['org']}: {r['events']} events and {r['keys']} keys older than {r['days']} days "
            f"(before {r['cutoff']}) deleted"
            for r in reports
        ]
        self.emit(
            "\n".join(lines) or "no organizations",
            {
                "orgs": reports,
                "events": sum(r["events"] for r in reports),
                "keys": sum(r["keys"] for r in reports),
            },
        )
