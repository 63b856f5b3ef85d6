"""`create_api_key --project proj_x --kind ingest|secret [--name N]`: issue a key, shown once."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import transaction

from orgs.selectors import project_find_in_all_orgs
from orgs.services import OrgsError, api_key_issue
from productgraph.management.base import OpsCommand


class Command(OpsCommand):
    help = "Issue an API key for a project. The full key is printed once and never stored."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project public id (proj_...)")
        parser.add_argument("--kind", required=True, choices=["ingest", "secret"])
        parser.add_argument("--name", default="")

    def handle(self, *args, **options):
        project = project_find_in_all_orgs(public_id=options["project"])
        if project is None:
            raise CommandError(f"no project with public id {options['project']!r}")
        try:
            with transaction.atomic():
                issued = api_key_issue(project=project, kind=options["kind"], name=options["name"])
        except OrgsError as exc:
            raise CommandError(str(exc)) from exc
        self.emit(
            f"{options['kind']} key for {project.public_id} (prefix {issued.api_key.prefix}); "
            f"it is shown only now:\n{issued.key}",
            {
                "key": issued.key,
                "prefix": issued.api_key.prefix,
                "kind": options["kind"],
                "project": project.public_id,
            },
        )
