"""`revoke_api_key --prefix P`: revoke a key at once."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import transaction

from orgs.models import ApiKey
from orgs.selectors import api_key_lookup
from orgs.services import api_key_revoke
from productgraph.management.base import OpsCommand


class Command(OpsCommand):
    help = "Revoke an API key by its visible prefix; requests with it fail from now on."

    def add_arguments(self, parser):
        parser.add_argument("--prefix", required=True, help="the key's visible prefix")

    def handle(self, *args, **options):
        prefix = options["prefix"]
        with transaction.atomic():
            record = api_key_lookup(prefix=prefix)
            if record is None:
                raise CommandError(f"no API key with prefix {prefix!r}")
            key = ApiKey(pk=record.id, org_id=record.org_id, prefix=prefix)
            revoked = api_key_revoke(api_key=key)
        verb = "revoked" if revoked else "was already revoked"
        self.emit(f"key {prefix} {verb}", {"prefix": prefix, "revoked": True, "changed": revoked})
