"""The journeys admin (journeys/admin.py): the funnel chart, validated definitions."""

from __future__ import annotations

import json

from django.core.management import call_command
from django.db import transaction

from journeys.models import Journey
from productgraph.tenancy.context import org_context
from tests.journeys.helpers import STEPS, make_journey, visit


def test_admin_shows_a_funnel_chart_and_rejects_bad_definitions(staff_client, client, acme):
    journey = make_journey(acme)
    visit(client, acme, "converts", "/cart", "/pay")
    call_command("aggregate_sessions")
    call_command("refresh_journeys")
    staff_client.post("/admin/switch-org/", {"org_id": acme.org.pk})
    page = staff_client.get(f"/admin/journeys/journey/{journey.pk}/change/").content.decode()
    assert '<svg id="journey-funnel"' in page and "<rect" in page
    metrics = page.split('<table id="journey-metrics">', 1)[1].split("</table>", 1)[0]
    assert "<th>converted</th><td>1</td>" in metrics and "<th>sessions</th><td>1</td>" in metrics
    bad = staff_client.post(
        "/admin/journeys/journey/add/",
        {
            "project": acme.project.pk,
            "key": "broken",
            "name": "Broken",
            "entry": "[]",
            "steps": json.dumps([{"id": "a", "match": [{"field": "page.path", "op": "like"}]}]),
            "exit": "[]",
            "timeout_minutes": 30,
            "is_active": "on",
        },
    )
    assert bad.status_code == 200
    assert "unknown op &#x27;like&#x27;" in bad.content.decode()
    with transaction.atomic(), org_context(acme.org.pk):
        assert not Journey.objects.filter(key="broken").exists()
    # Editing keeps the key and the project (read-only once created) and still validates.
    edited = staff_client.post(
        f"/admin/journeys/journey/{journey.pk}/change/",
        {
            "key": "renamed",
            "name": "Checkout 2",
            "entry": "[]",
            "steps": json.dumps(STEPS),
            "exit": "[]",
            "timeout_minutes": 45,
            "is_active": "on",
        },
    )
    assert edited.status_code == 302, edited.content.decode()[:2000]
    with transaction.atomic(), org_context(acme.org.pk):
        journey.refresh_from_db()
    assert (journey.key, journey.name, journey.timeout_minutes) == ("checkout", "Checkout 2", 45)
    assert journey.project_id == acme.project.pk
    assert journey.definition_version == 2, "the admin writes through journey_update"
    added = staff_client.post(
        "/admin/journeys/journey/add/",
        {"project": acme.project.pk, "key": "again", "name": "Again", "entry": "",
         "steps": json.dumps(STEPS), "exit": "", "timeout_minutes": 30, "is_active": "on"},
    )  # fmt: skip
    assert added.status_code == 302, added.content.decode()[:2000]
    with transaction.atomic(), org_context(acme.org.pk):
        again = Journey.objects.get(key="again")
    assert (again.org_id, again.entry, again.exit) == (acme.org.pk, [], [])
