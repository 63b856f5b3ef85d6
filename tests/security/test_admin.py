"""The admin, attacked: staff acting as acme go after globex's rows by URL, POST and action.

tests/security/test_isolation.py covers the list pages, the project and key change/history
pages and search, tests/orgs/test_admin_org.py the switch log; here: every other tenant
model's pages (memberships, sessions, journeys), writes (change forms, add forms naming
globex's project, actions with globex's ids), the switcher's input (odd ids, open
redirects, CSRF, a vanished org) and who may switch at all (tenancy.md invariant 7: an
active staff member who is a member of the org or holds `orgs.act_for_any_org`, logged;
nobody else: tests/security/test_attack_staff.py).
"""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client

from journeys.models import Journey
from orgs.admin_org import SESSION_KEY
from orgs.models import ApiKey, Membership, Project
from productgraph.tenancy.context import org_context
from sessions.models import Session
from tests.graphql_api.helpers import add_journey, fold, member, visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(get_user_model().objects.create_superuser("staff", "s@example.com", "pw"))
    return client


def switch(client, org_id, **extra) -> object:
    response = client.post("/admin/switch-org/", {"org_id": str(org_id), **extra})
    assert response.status_code == 302, response.content[:300]
    return response


@pytest.fixture
def globex_rows(client, globex):
    """globex's membership, session and journey (besides its project and keys)."""
    visit(client, globex, "g-sess", "/cart", "/pay")
    fold(globex, "g-sess")
    add_journey(globex)
    member(globex, "gina", "admin")
    with transaction.atomic(), org_context(globex.org.pk):
        return {
            "membership": Membership.objects.get().pk,
            "session": Session.objects.get().pk,
            "journey": Journey.objects.get().pk,
            "apikey": ApiKey.objects.order_by("pk").first().pk,
            "project": globex.project.pk,
        }


def _globex_state(globex) -> tuple:
    with transaction.atomic(), org_context(globex.org.pk):
        return (
            list(Project.objects.values_list("name", "slug", "rate_limit_per_second")),
            list(ApiKey.objects.order_by("pk").values_list("prefix", "revoked_at")),
            list(Journey.objects.values_list("key", "name", "is_active")),
            list(Membership.objects.values_list("user__username", "role")),
        )


PAGES = [
    "/admin/orgs/membership/{membership}/change/",
    "/admin/orgs/membership/{membership}/delete/",
    "/admin/orgs/membership/{membership}/history/",
    "/admin/orgs/project/{project}/delete/",
    "/admin/orgs/apikey/{apikey}/history/",
    "/admin/product_sessions/session/{session}/change/",
    "/admin/product_sessions/session/{session}/history/",
    "/admin/journeys/journey/{journey}/change/",
    "/admin/journeys/journey/{journey}/delete/",
]


def test_globex_pages_are_missing_for_staff_acting_as_acme(staff_client, acme, globex_rows):
    switch(staff_client, acme.org.pk)
    for template in PAGES:
        url = template.format(**globex_rows)
        response = staff_client.get(url)
        # Django's admin answers a row it cannot find with a redirect to the index.
        assert response.status_code == 302 and response["Location"] == "/admin/", url
        page = staff_client.get(response["Location"]).content.decode()
        assert "exist" in page, url
        for marker in ("proj_globex", "g-sess", "gina", "Checkout"):
            assert marker not in page, (url, marker)


def test_writes_to_globex_rows_change_nothing(staff_client, acme, globex, globex_rows):
    before = _globex_state(globex)
    switch(staff_client, acme.org.pk)
    posts = [
        (
            f"/admin/orgs/project/{globex_rows['project']}/change/",
            {
                "name": "Pwned",
                "slug": "pwned",
                "allowed_origins": "[]",
                "rate_limit_per_second": 1,
                "session_timeout_minutes": 30,
            },
        ),
        (f"/admin/orgs/project/{globex_rows['project']}/delete/", {"post": "yes"}),
        (f"/admin/journeys/journey/{globex_rows['journey']}/delete/", {"post": "yes"}),
        (f"/admin/orgs/membership/{globex_rows['membership']}/delete/", {"post": "yes"}),
        (
            "/admin/orgs/apikey/",
            {"action": "revoke_keys", "_selected_action": [str(globex_rows["apikey"])]},
        ),
        (
            "/admin/orgs/project/",
            {
                "action": "delete_selected",
                "_selected_action": [str(globex_rows["project"])],
                "post": "yes",
            },
        ),
        (
            "/admin/journeys/journey/",
            {"action": "refresh", "_selected_action": [str(globex_rows["journey"])]},
        ),
    ]
    for url, payload in posts:
        response = staff_client.post(url, payload)
        assert response.status_code in (200, 302), (url, response.status_code)
        assert "Pwned" not in response.content.decode()
    assert _globex_state(globex) == before


def test_add_forms_refuse_globex_project(staff_client, acme, globex):
    switch(staff_client, acme.org.pk)
    steps = '[{"id": "a", "match": [{"field": "page.path", "op": "eq", "value": "/a"}]}]'
    journey = staff_client.post(
        "/admin/journeys/journey/add/",
        {
            "project": globex.project.pk,
            "key": "stolen",
            "name": "Stolen",
            "entry": "[]",
            "steps": steps,
            "exit": "[]",
            "timeout_minutes": 30,
            "is_active": "on",
        },
    )
    key = staff_client.post(
        "/admin/orgs/apikey/add/", {"project": globex.project.pk, "kind": "secret", "name": "x"}
    )
    for response in (journey, key):
        assert response.status_code == 200  # the form again, with its error
        assert "Select a valid choice" in response.content.decode()
    assert "issued-key" not in key.content.decode()
    with transaction.atomic(), org_context(globex.org.pk):
        assert not Journey.objects.filter(key="stolen").exists()
        assert ApiKey.objects.count() == 2
    with transaction.atomic(), org_context(acme.org.pk):
        assert not Journey.objects.filter(key="stolen").exists()


@pytest.mark.parametrize("raw", ["²", "٣", "-1", "1.0", "0x1", "9" * 40, "", "acme"])
def test_switching_to_something_that_is_no_org_id_selects_no_org(staff_client, acme, raw):
    switch(staff_client, acme.org.pk)
    switch(staff_client, raw)
    assert SESSION_KEY not in staff_client.session, raw


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/admin/", "/\\evil.example", "javascript:x"]
)
def test_the_switcher_never_redirects_off_site(staff_client, acme, target):
    response = switch(staff_client, acme.org.pk, next=target)
    assert response["Location"] == "/admin/"


def test_the_switcher_needs_post_and_a_csrf_token(acme):
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.create_superuser("s", "s@example.com", "pw"))
    assert client.get("/admin/switch-org/").status_code == 405
    refused = client.post("/admin/switch-org/", {"org_id": acme.org.pk})
    assert refused.status_code == 403  # Django's CSRF failure page
    assert SESSION_KEY not in client.session


def test_a_switched_to_org_that_vanished_is_forgotten(staff_client, acme):
    session = staff_client.session
    session[SESSION_KEY] = 10**9  # no such org
    session.save()
    body = staff_client.get("/admin/orgs/project/").content.decode()
    assert "proj_acme" not in body
    assert SESSION_KEY not in staff_client.session


def test_staff_members_without_model_permissions_see_nothing_of_their_org(
    client, acme, globex, caplog
):
    """Switching needs a membership (or act_for_any_org), and is logged.

    What staff may then do is Django's model permissions: a staff member without any sees
    nothing of the org they switched to.
    """
    clerk = member(globex, "clerk", "viewer")
    clerk.is_staff = True
    clerk.save(update_fields=["is_staff"])
    client.force_login(clerk)
    with caplog.at_level(logging.INFO, logger="productgraph.audit"):
        switch(client, globex.org.pk)
    assert client.session[SESSION_KEY] == globex.org.pk
    lines = [r.getMessage() for r in caplog.records if r.name == "productgraph.audit"]
    assert [line.rsplit(" at=", 1)[0] for line in lines] == [
        f"admin org switch user=clerk from_org=None to_org={globex.org.pk} via=membership"
    ]
    for url in [
        "/admin/orgs/project/",
        f"/admin/orgs/project/{globex.project.pk}/change/",
        "/admin/product_sessions/session/",  # sessions and their events: view permission too
        "/admin/product_sessions/session/1/change/",
    ]:
        assert client.get(url).status_code == 403, url


def test_staff_who_may_only_view_cannot_run_the_actions_that_write(client, acme):
    from django.contrib.auth.models import Permission

    viewer = member(acme, "viewer", "viewer")  # may switch to acme
    viewer.is_staff = True
    viewer.save(update_fields=["is_staff"])
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_apikey", "view_journey"])
    )
    client.force_login(viewer)
    switch(client, acme.org.pk)
    assert client.session[SESSION_KEY] == acme.org.pk
    for url, action in [
        ("/admin/orgs/apikey/", "revoke_keys"),
        ("/admin/journeys/journey/", "refresh"),
    ]:
        page = client.get(url)
        assert page.status_code == 200, url
        assert f'value="{action}"' not in page.content.decode(), url


def test_an_inactive_staff_member_cannot_switch_or_read(client, acme):
    ghost = get_user_model().objects.create_user(
        "ghost", password="pw", is_staff=True, is_superuser=True, is_active=False
    )
    client.force_login(ghost)
    response = client.post("/admin/switch-org/", {"org_id": acme.org.pk})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert SESSION_KEY not in client.session
    assert "/admin/login/" in client.get("/admin/orgs/project/")["Location"]


def test_adding_a_project_with_another_orgs_public_id_is_an_error_message_not_a_500(
    staff_client, acme, globex
):
    switch(staff_client, acme.org.pk)
    response = staff_client.post(
        "/admin/orgs/project/add/",
        {
            "name": "Copy",
            "slug": "copy",
            "public_id": globex.project.public_id,
            "allowed_origins": "[]",
            "rate_limit_per_second": "100",
            "session_timeout_minutes": "30",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "already taken" in response.content.decode()
    with org_context(globex.org.pk):
        assert Project.objects.get(public_id=globex.project.public_id).org_id == globex.org.pk


def test_deleting_a_user_who_is_a_member_of_another_org_too_deletes_every_membership(
    staff_client, acme, globex
):
    both = get_user_model().objects.create_user("both", password="pw")
    for tenant in (acme, globex):
        with transaction.atomic(), org_context(tenant.org.pk):
            Membership.objects.create(org=tenant.org, user=both, role="viewer")
    switch(staff_client, acme.org.pk)  # globex's membership is invisible from here
    with connection.cursor() as cursor:  # the test never commits: check the keys at once
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    response = staff_client.post(f"/admin/auth/user/{both.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content[:300]
    assert not get_user_model().objects.filter(pk=both.pk).exists()
    for tenant in (acme, globex):
        with transaction.atomic(), org_context(tenant.org.pk):
            assert not Membership.objects.filter(user_id=both.pk).exists()
