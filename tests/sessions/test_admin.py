"""The sessions admin (read-only, org-scoped) and `aggregate_sessions`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from productgraph.tenancy.context import org_context
from sessions.models import Session
from tests.ingestion.helpers import RECENT, RECENT_TIMESTAMP, event, post
from tests.sessions.test_services import sessions_of


def seed(client, tenant, session_id):
    batch = [
        event(
            event_id=f"{session_id}-b",
            page__path="/second",
            event__timestamp=(RECENT + timedelta(minutes=1)).isoformat(),
        ),
        event(event_id=f"{session_id}-a", page__path="/first", event__timestamp=RECENT_TIMESTAMP),
    ]
    for item in batch:
        item["session.id"] = session_id
    post(client, tenant.ingest_key, {"events": batch})


def test_aggregate_sessions_rebuilds_only_the_chosen_org(client, acme, globex, capsys):
    seed(client, acme, "acme-s")
    seed(client, globex, "globex-s")
    call_command("aggregate_sessions", "--org", "acme", "--json")
    assert json.loads(capsys.readouterr().out) == {"projects": {"proj_acme": 1}, "sessions": 1}
    assert set(sessions_of(acme)) == {"acme-s"}
    assert sessions_of(globex) == {}
    call_command("aggregate_sessions", "--json")
    assert json.loads(capsys.readouterr().out)["sessions"] == 2


def test_aggregate_sessions_since_and_errors(client, acme, capsys):
    seed(client, acme, "acme-s")
    since = (RECENT + timedelta(hours=1)).isoformat()  # after the seeded session
    call_command("aggregate_sessions", "--since", since, "--json")
    assert json.loads(capsys.readouterr().out)["sessions"] == 0
    with pytest.raises(CommandError):
        call_command("aggregate_sessions", "--org", "nope")
    # An empty value (an unset shell variable) names nothing: it never widens to every org.
    with pytest.raises(CommandError, match="no organization with slug ''"):
        call_command("aggregate_sessions", "--org", "")
    with pytest.raises(CommandError, match="no project ''"):
        call_command("refresh_journeys", "--project", "")
    for since in ("", "yesterday", "2026-13-01T00:00:00Z", "2026-01-01T25:00:00+00:00"):
        with pytest.raises(CommandError, match="ISO 8601"):
            call_command("aggregate_sessions", "--since", since)


@pytest.fixture
def staff_client(client, db):
    staff = get_user_model().objects.create_superuser("staff", "s@example.com", "pw")
    client.force_login(staff)
    return client


def test_session_admin_is_scoped_and_shows_events_in_order(staff_client, client, acme, globex):
    seed(client, acme, "acme-s")
    seed(client, globex, "globex-s")
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
    seed(client, acme, "acme-s")
    call_command("aggregate_sessions")
    staff_client.post("/admin/switch-org/", {"org_id": acme.org.pk})
    assert staff_client.get(f"/admin/product_sessions/session/{query}").status_code == 200
