"""`aggregate_sessions [--org S] [--project proj_x] [--since ISO]`: rebuild sessions."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import CommandError
from django.db import transaction
from tqdm import tqdm

from ingestion.selectors import sessions_with_events
from orgs.selectors import projects_selected
from productgraph.management.base import OpsCommand, aware_datetime
from sessions.services import FOLD_BATCH, sessions_fold


class Command(OpsCommand):
    help = "Recompute sessions from their events, for every org or one org / project."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="organization slug (default: every org)")
        parser.add_argument("--project", help="project public id (proj_...)")
        parser.add_argument(
            "--since",
            type=aware_datetime,
            help="only sessions with events at or after this ISO time (with an offset)",
        )

    def handle(self, *args, **options):
        since: datetime | None = options["since"]
        totals: dict[str, int] = {}
        try:
            for org, project in projects_selected(
                org_slug=options["org"], public_id=options["project"]
            ):
                ids = sessions_with_events(org_id=org.pk, project_id=project.pk, since=since)
                written = 0
                with tqdm(
                    total=len(ids),
                    desc=project.public_id,
                    unit="session",
                    disable=True if self.as_json else None,
                ) as bar:
                    for start in range(0, len(ids), FOLD_BATCH):
                        chunk = ids[start : start + FOLD_BATCH]
                        with transaction.atomic():
                            written += sessions_fold(
                                org_id=org.pk, project_id=project.pk, session_ids=chunk
                            )
                        bar.update(len(chunk))
                totals[project.public_id] = written
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        self.emit(
            "\n".join(f"{project}: {count} session(s) rebuilt" for project, count in totals.items())
            or "no projects",
            {"projects": totals, "sessions": sum(totals.values())},
        )
