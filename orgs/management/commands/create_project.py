"""`create_project --org S --name N [--public-id proj_x]`: create a project."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import transaction

from orgs.selectors import organization_get
from orgs.services import OrgsError, project_create
from productgraph.management.base import OpsCommand


class Command(OpsCommand):
    help = "Create a project in an organization; an existing one is reported, not duplicated."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", default=None)
        parser.add_argument("--public-id", default=None, help="proj_... (random if omitted)")

    def handle(self, *args, **options):
        org = organization_get(slug=options["org"])
        if org is None:
            raise CommandError(f"no organization with slug {options['org']!r}")
        try:
            with transaction.atomic():
                project, created = project_create(
                    org=org,
                    name=options["name"],
                    slug=options["slug"],
                    public_id=options["public_id"],
                )
        except OrgsError as exc:
            raise CommandError(str(exc)) from exc
        verb = "created" if created else "already exists"
        self.emit(
            f"project {project.public_id} ({project.slug}) in {org.slug} {verb}",
            {
                "id": project.pk,
                "public_id": project.public_id,
                "slug": project.slug,
                "name": project.name,
                "org": org.slug,
                "created": created,
            },
        )
