"""The orgs admin for staff (orgs/admin.py): tenant pages need a chosen org (tenancy.md
invariant 7), keys shown once and stored hashed, revocation, projects, the index."""

from __future__ import annotations

import pytest

from orgs import keys, services
from orgs.models import ApiKey
from productgraph.tenancy.context import org_context
from tests.orgs.helpers import TENANT_LISTS, switch


@pytest.mark.parametrize("url", TENANT_LISTS)
def test_tenant_list_without_a_chosen_org_is_empty(staff_client, acme, globex, url):
    body = staff_client.get(url).content.decode()
    assert "proj_acme" not in body and "proj_globex" not in body
    assert "Choose an organization" in body


def test_issuing_a_key_shows_it_once_and_stores_its_hash(staff_client, staff, acme):
    services.membership_set(org=acme.org, user=staff, role="admin")  # keys: members only
    switch(staff_client, acme.org.pk)
    response = staff_client.post(
        "/admin/orgs/apikey/add/",
        {"project": acme.project.pk, "kind": "ingest", "name": "from admin"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    raw = body.split('<code id="issued-key" style="font-size:1.2em">')[1].split("</code>")[0]
    assert keys.is_well_formed(raw)
    with org_context(acme.org.pk):
        stored = ApiKey.objects.get(name="from admin")
    assert stored.key_hash == keys.digest(raw)
    page = staff_client.get(f"/admin/orgs/apikey/{stored.pk}/change/").content.decode()
    assert raw not in page


def test_revoke_action_revokes_selected_keys(staff_client, acme):
    switch(staff_client, acme.org.pk)
    with org_context(acme.org.pk):
        ids = list(ApiKey.objects.values_list("pk", flat=True))
    staff_client.post(
        "/admin/orgs/apikey/",
        {"action": "revoke_keys", "_selected_action": [str(i) for i in ids]},
    )
    with org_context(acme.org.pk):
        assert not ApiKey.objects.filter(revoked_at__isnull=True).exists()


def test_project_added_in_the_admin_belongs_to_the_chosen_org(staff_client, acme, globex):
    switch(staff_client, globex.org.pk)
    response = staff_client.post(
        "/admin/orgs/project/add/",
        {
            "name": "Mobile",
            "slug": "mobile",
            "public_id": "proj_globex_mobile",
            "allowed_origins": "[]",
            "rate_limit_per_second": 5000,
            "session_timeout_minutes": 30,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with org_context(globex.org.pk):
        from orgs.models import Project

        assert Project.objects.get(public_id="proj_globex_mobile").org_id == globex.org.pk


def test_admin_index_lists_no_recent_actions(staff_client, acme):
    switch(staff_client, acme.org.pk)
    body = staff_client.get("/admin/").content.decode()
    assert "Recent actions" not in body
    assert 'id="org-switcher"' in body
