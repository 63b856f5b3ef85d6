"""The sessions admin (sessions/admin.py): read-only, org-scoped, events in order."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import transaction

from productgraph.tenancy.context import org_context
from sessions.models import Session
from tests.sessions.helpers import seed_session, sessions_of


def test_session_admin_is_scoped_and_shows_events_in_order(staff_client, client, acme, globex):
    seed_session(client, acme, "acme-s")
    seed_session(client, globex, "globex-s")
    call_command("aggregate_sessions")
    staff_client.post("/admin/switch-org/", {"org_id": acme.org.pk})
    listing = staff_client.get("/admin/product_sessions/session/").content.decode()
    assert "acme-s" in listing and "globex-s" not in listing
    acme_session = sessions_of(acme)["acme-s"]
    page = staff_client.get(f"/admin/product_sessions/session/{acme_session.pk}/change/")
    body = page.content.decode()
    assert body.index("/first") < body.index("/second")
    with transaction.atomic(), org_context(globex.org.pk):
        other = Session.objects.get(session_id="globex-s").pk
    missing = staff_client.get(f"/admin/product_sessions/session/{other}/change/", follow=True)
    assert "globex-s" not in missing.content.decode()


@pytest.mark.parametrize("query", ["?is_active__exact=0", "?errors=yes", "?q=acme"])
def test_session_admin_filters_answer(staff_client, client, acme, query):
    seed_session(client, acme, "acme-s")
    call_command("aggregate_sessions")
    staff_client.post("/admin/switch-org/", {"org_id": acme.org.pk})
    assert staff_client.get(f"/admin/product_sessions/session/{query}").status_code == 200
