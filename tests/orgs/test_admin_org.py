"""Staff acting for an org in the admin (orgs/admin_org.py): each switch is audited,
and only staff may switch."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model

from tests.orgs.helpers import switch


def test_each_switch_is_logged(staff_client, acme, globex, caplog):
    with caplog.at_level(logging.INFO, logger="productgraph.audit"):
        switch(staff_client, acme.org.pk)
        switch(staff_client, globex.org.pk)
    lines = [r.getMessage() for r in caplog.records if r.name == "productgraph.audit"]
    stamps = [datetime.fromisoformat(line.rsplit(" at=", 1)[1]) for line in lines]
    assert all(stamp.utcoffset() == timedelta(0) for stamp in stamps)
    assert [line.rsplit(" at=", 1)[0] for line in lines] == [
        f"admin org switch user=staff from_org=None to_org={acme.org.pk} via=superuser",
        f"admin org switch user=staff from_org={acme.org.pk} to_org={globex.org.pk} via=superuser",
    ]


def test_non_staff_cannot_switch(client, acme, db):
    user = get_user_model().objects.create_user("analyst", password="pw")
    client.force_login(user)
    response = client.post("/admin/switch-org/", {"org_id": acme.org.pk})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert "admin_org_id" not in client.session
