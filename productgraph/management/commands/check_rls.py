"""`check_rls`: verify the RLS invariants on the live database; non-zero exit on any breach."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import connection

from productgraph.management.base import OpsCommand
from productgraph.tenancy.inspection import rls_breaches


class Command(OpsCommand):
    help = "Walk the catalog and verify every Row-Level Security invariant (tenancy.md)."

    def handle(self, *args, **options):
        with connection.cursor() as cursor:
            breaches = rls_breaches(cursor)
        if breaches:
            if self.as_json:
                self.emit("", {"ok": False, "breaches": breaches})
            else:
                for breach in breaches:
                    self.stderr.write(f"BREACH: {breach}")
            raise CommandError(f"{len(breaches)} RLS invariant breach(es)")
        self.emit("RLS invariants hold", {"ok": True, "breaches": []})
