"""`seed_demo`: the demo organization `demo`, project `proj_demo` and its keys (make run).

Keys are stored only as hashes, so to print the same keys on every `make run` their clear
text is kept in `.data/demo_keys.json` (mode 0600, git-ignored): a local development
convenience, like a credentials file. Keys that no longer authenticate are replaced.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from orgs.authentication import authenticate_key
from orgs.services import OrgsError, api_key_issue, organization_create, project_create
from productgraph.api.errors import CodedAPIException
from productgraph.management.base import OpsCommand

DEMO_SLUG = "demo"
DEMO_PUBLIC_ID = "proj_demo"


def _still_valid(key: object) -> bool:
    if not isinstance(key, str) or not key:
        return False
    try:
        with transaction.atomic():
            authenticate_key(key)
    except CodedAPIException:
        return False
    return True


class Command(OpsCommand):
    help = "Create the demo organization and project once; print its keys and a curl to try."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, **options):
        path = settings.PRODUCTGRAPH_DATA_DIR / "demo_keys.json"
        try:
            stored = json.loads(path.read_text()) if path.exists() else {}
        except ValueError:  # damaged: new keys are issued and the file rewritten
            stored = {}
        if not isinstance(stored, dict):
            stored = {}
        try:
            with transaction.atomic():
                org, _ = organization_create(slug=DEMO_SLUG, name="Demo")
                project, _ = project_create(
                    org=org, name="Demo", slug="demo", public_id=DEMO_PUBLIC_ID
                )
        except OrgsError as exc:
            raise CommandError(f"cannot create the demo project: {exc}") from exc
        demo_keys = {}
        for kind in ("ingest", "secret"):
            key = stored.get(kind)
            if not _still_valid(key):
                with transaction.atomic():
                    key = api_key_issue(project=project, kind=kind, name="make run demo").key
            demo_keys[kind] = key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(demo_keys))
        path.chmod(0o600)
        # Now, to the second: an example older than the org's retention would be refused.
        sent_at = timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
        curl = (
            f"curl -i -X POST http://localhost:{options['port']}/v1/events \\\n"
            "  -H 'Content-Type: application/json' \\\n"
            f"  -H 'X-PG-API-Key: {demo_keys['ingest']}' \\\n"
            """  -d '{"events": [{"event_id": "evt_001", "session.id": "sess_001", """
            f""""event.type": "page.view", "event.timestamp": "{sent_at}", """
            """"page.path": "/home"}]}'"""
        )
        self.emit(
            "\n".join(
                [
                    f"Demo project {DEMO_PUBLIC_ID} (organization {DEMO_SLUG})",
                    f"  ingest key: {demo_keys['ingest']}",
                    f"  secret key: {demo_keys['secret']}",
                    "Send an event:",
                    curl,
                ]
            ),
            {
                "org": DEMO_SLUG,
                "project": DEMO_PUBLIC_ID,
                "ingest_key": demo_keys["ingest"],
                "secret_key": demo_keys["secret"],
                "curl": curl,
            },
        )
