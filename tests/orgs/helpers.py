"""Shared helpers of the orgs tests: the admin's org switcher and its tenant pages."""

from __future__ import annotations

TENANT_LISTS = ["/admin/orgs/project/", "/admin/orgs/apikey/", "/admin/orgs/membership/"]


def switch(client, org_id) -> None:
    """Choose the org a staff member acts for in the admin (None: no org)."""
    response = client.post("/admin/switch-org/", {"org_id": str(org_id or "")})
    assert response.status_code == 302
