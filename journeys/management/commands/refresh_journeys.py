"""`refresh_journeys [--org S] [--project proj_x]`: re-match sessions, refresh metrics."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import transaction

from journeys.services import journeys_refresh_project
from orgs.selectors import all_orgs, project_list
from productgraph.management.base import OpsCommand


class Command(OpsCommand):
    help = "Re-match every session against the journeys and refresh the stored metrics."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="organization slug (default: every org)")
        parser.add_argument("--project", help="project public id (proj_...)")

    def handle(self, *args, **options):
        totals: dict[str, int] = {}
        found_org = found_project = False
        for org in all_orgs():
            if options["org"] and org.slug != options["org"]:
                continue
            found_org = True
            for project in project_list(org_id=org.pk):
                if options["project"] and project.public_id != options["project"]:
                    continue
                found_project = True
                with transaction.atomic():
                    totals[project.public_id] = journeys_refresh_project(
                        org_id=org.pk, project_id=project.pk
                    )
        if options["org"] and not found_org:
            raise CommandError(f"no organization with slug {options['org']!r}")
        if options["project"] and not found_project:
            raise CommandError(f"no project {options['project']!r} in the selected org(s)")
        self.emit(
            "\n".join(f"{p}: {n} session-journey row(s)" for p, n in totals.items())
            or "no projects",
            {"projects": totals, "rows": sum(totals.values())},
        )
