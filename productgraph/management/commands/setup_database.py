"""`setup_database`: create/upgrade the roles and grants (owner, runtime), then migrate."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from productgraph.management.base import OpsCommand
from productgraph.tenancy.provisioning import (
    default_database,
    grant_runtime_privileges,
    provision_roles_and_database,
)


class Command(OpsCommand):
    help = "Create or upgrade the database roles and grants, then run migrations as the owner."

    def handle(self, *args, **options):
        urls = settings.DATABASE_URLS
        database = default_database(urls)
        steps: list[str] = []

        def report(line: str) -> None:
            steps.append(line)
            if not self.as_json:
                self.stdout.write(f"  {line}")

        try:
            provision_roles_and_database(urls, database=database, report=report)
            grant_runtime_privileges(urls, database=database)
            call_command("migrate", database="owner", interactive=False, verbosity=0)
            grant_runtime_privileges(urls, database=database)
        except Exception as exc:
            raise CommandError(f"database setup failed: {exc}") from exc
        report("grants: runtime role has SELECT/INSERT/UPDATE/DELETE, no TRUNCATE")
        report("migrations: applied as the owner")
        self.emit(f"database {database} is ready", {"database": database, "steps": steps})
