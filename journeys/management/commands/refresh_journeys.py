"""`refresh_journeys [--org S] [--project proj_x]`: re-match sessions, refresh metrics."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import transaction

from journeys.services import journeys_refresh_project
from orgs.selectors import projects_selected
from productgraph.management.base import OpsCommand


class Command(OpsCommand):
    help = "Re-match every session against the journeys and refresh the stored metrics."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="organization slug (default: every org)")
        parser.add_argument("--project", help="project public id (proj_...)")

    def handle(self, *args, **options):
        totals: dict[str, int] = {}
        try:
            for org, project in projects_selected(
                org_slug=options["org"], public_id=options["project"]
            ):
                with transaction.atomic():
                    totals[project.public_id] = journeys_refresh_project(
                        org_id=org.pk, project_id=project.pk
                    )
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        self.emit(
            "\n".join(f"{p}: {n} session-journey row(s)" for p, n in totals.items())
            or "no projects",
            {"projects": totals, "rows": sum(totals.values())},
        )
