"""`create_org --slug S --name N`: create an organization (idempotent by slug)."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import transaction

from orgs.services import OrgsError, organization_create
from productgraph.management.base import OpsCommand


class Command(OpsCommand):
    help = "Create an organization; an existing slug is reported, not duplicated."

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--retention-days", type=int, default=90)

    def handle(self, *args, **options):
        try:
            with transaction.atomic():
                org, created = organization_create(
                    slug=options["slug"],
                    name=options["name"],
                    retention_days=options["retention_days"],
                )
        except OrgsError as exc:
            raise CommandError(str(exc)) from exc
        verb = "created" if created else "already exists"
        self.emit(
            f"organization {org.slug} {verb} (id {org.pk})",
            {
                "id": org.pk,
                "slug": org.slug,
                "name": org.name,
                "retention_days": org.retention_days,
                "created": created,
            },
        )
