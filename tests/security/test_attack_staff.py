"""Issue 15's attack on the admin, replayed: staff acting for orgs they do not belong to.

Found: a staff member (not a superuser) of acme only posted /admin/switch-org/ with globex's
id, added a secret key for globex's project, saw it in full and read globex's events over
GraphQL. Now a switch needs a Membership in the org or `orgs.act_for_any_org`, is re-checked
on every admin request, every use and refusal is audited, and only members create keys.
Also found: logins were not throttled (25 wrong passwords, then the right one worked).
"""

from __future__ import annotations

import io
import logging
import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from orgs import services
from orgs.admin_org import SESSION_KEY
from orgs.models import ApiKey, Membership
from productgraph.tenancy.context import org_context
from tests.graphql_api.helpers import gql, member

pytestmark = pytest.mark.django_db

# What a staff member who works on keys and projects holds (no superuser).
KEY_CLERK_PERMISSIONS = ["view_project", "view_apikey", "add_apikey", "change_apikey"]
AUDIT_TIME = r"at=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00"


def staff_member_of(tenant, username: str = "ann", *permissions: str):
    """A staff user (not a superuser) with a membership in `tenant`'s org only."""
    user = member(tenant, username, "admin")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    codenames = [*KEY_CLERK_PERMISSIONS, *permissions]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def switch(client, org_id):
    response = client.post("/admin/switch-org/", {"org_id": str(org_id)}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def audit_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "productgraph.audit"]


def globex_key_count(globex) -> int:
    with transaction.atomic(), org_context(globex.org.pk):
        return ApiKey.objects.filter(org_id=globex.org.pk).count()


# --- Acting for an org -----------------------------------------------------------------------


def test_a_staff_member_of_acme_cannot_switch_to_globex(client, acme, globex, caplog):
    ann = staff_member_of(acme)
    client.force_login(ann)
    switch(client, acme.org.pk)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="productgraph.audit"):
        page = switch(client, globex.org.pk)
    assert f"You may not act for organization {globex.org.pk}" in page
    assert client.session[SESSION_KEY] == acme.org.pk  # nothing was switched
    [line] = audit_lines(caplog)
    assert re.fullmatch(
        f"admin org switch refused user=ann from_org={acme.org.pk} to_org={globex.org.pk} "
        f"{AUDIT_TIME} reason=not_a_member",
        line,
    ), line
    body = client.get("/admin/orgs/project/").content.decode()
    assert "proj_acme" in body and "proj_globex" not in body
    missing = client.get(f"/admin/orgs/project/{globex.project.pk}/change/", follow=True)
    assert "proj_globex" not in missing.content.decode()


def test_the_attack_adding_a_secret_key_for_globex_is_refused(client, acme, globex):
    client.force_login(staff_member_of(acme))
    switch(client, globex.org.pk)  # refused: ann stays without an org
    assert SESSION_KEY not in client.session
    response = client.post(
        "/admin/orgs/apikey/add/", {"project": globex.project.pk, "kind": "secret", "name": "x"}
    )
    assert "issued-key" not in response.content.decode()
    assert globex_key_count(globex) == 2
    # ...and the session that logged in to the admin cannot read globex over GraphQL either.
    refused = gql(client, "{ projects { publicId } }", org="globex")
    assert refused.status_code == 403
    assert "proj_globex" not in refused.content.decode()


def test_the_switcher_lists_only_the_orgs_one_may_enter(client, acme, globex):
    ann = staff_member_of(acme)
    client.force_login(ann)
    page = client.get("/admin/").content.decode()
    switcher = page.split('id="org-switcher"', 1)[1].split("</form>", 1)[0]
    assert ">acme</option>" in switcher and "globex" not in switcher
    ann.user_permissions.add(Permission.objects.get(codename="act_for_any_org"))
    client.force_login(get_user_model().objects.get(pk=ann.pk))  # a fresh permission cache
    switcher = client.get("/admin/").content.decode().split('id="org-switcher"', 1)[1]
    assert ">acme</option>" in switcher and ">globex</option>" in switcher


def test_act_for_any_org_allows_the_switch_and_every_use_is_audited(client, acme, globex, caplog):
    client.force_login(staff_member_of(acme, "ann", "act_for_any_org"))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="productgraph.audit"):
        page = switch(client, globex.org.pk)
        switch(client, acme.org.pk)
    assert "You are now acting as organization" in page
    first, second = audit_lines(caplog)
    assert re.fullmatch(
        f"admin org switch user=ann from_org=None to_org={globex.org.pk} via=permission "
        f"{AUDIT_TIME}",
        first,
    ), first
    assert re.fullmatch(
        f"admin org switch user=ann from_org={globex.org.pk} to_org={acme.org.pk} "
        f"via=membership {AUDIT_TIME}",
        second,
    ), second
    switch(client, globex.org.pk)
    assert "proj_globex" in client.get("/admin/orgs/project/").content.decode()


def test_a_membership_removed_later_withdraws_the_org_on_the_next_request(
    client, acme, globex, caplog
):
    ann = staff_member_of(globex)
    client.force_login(ann)
    switch(client, globex.org.pk)
    assert client.session[SESSION_KEY] == globex.org.pk
    with transaction.atomic(), org_context(globex.org.pk):
        Membership.objects.filter(user=ann).delete()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="productgraph.audit"):
        body = client.get("/admin/orgs/project/").content.decode()
    assert "proj_globex" not in body
    assert "You may no longer act for organization" in body
    assert SESSION_KEY not in client.session
    [line] = audit_lines(caplog)
    assert re.fullmatch(
        f"admin org access withdrawn user=ann org={globex.org.pk} {AUDIT_TIME} reason=not_a_member",
        line,
    ), line


def test_a_session_org_chosen_before_the_rule_no_longer_works(client, acme, globex):
    client.force_login(staff_member_of(acme))
    session = client.session
    session[SESSION_KEY] = globex.org.pk  # what any staff member could choose before
    session.save()
    body = client.get("/admin/orgs/apikey/").content.decode()
    assert "proj_globex" not in body
    assert SESSION_KEY not in client.session


# --- Secret keys: members only ----------------------------------------------------------------


def test_act_for_any_org_does_not_let_a_non_member_create_keys(client, acme, globex, caplog):
    client.force_login(staff_member_of(acme, "ann", "act_for_any_org"))
    switch(client, globex.org.pk)
    assert client.session[SESSION_KEY] == globex.org.pk
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="productgraph.audit"):
        response = client.post(
            "/admin/orgs/apikey/add/",
            {"project": globex.project.pk, "kind": "secret", "name": "x"},
            follow=True,
        )
    body = response.content.decode()
    assert "No key was created" in body and "not a member" in body
    assert "issued-key" not in body
    assert globex_key_count(globex) == 2
    assert any(
        line.startswith(f"admin api key refused user=ann org={globex.org.pk} ")
        for line in audit_lines(caplog)
    )


def test_a_superuser_who_is_not_a_member_cannot_create_keys(client, globex):
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))
    switch(client, globex.org.pk)
    response = client.post(
        "/admin/orgs/apikey/add/",
        {"project": globex.project.pk, "kind": "secret", "name": "x"},
        follow=True,
    )
    assert "No key was created" in response.content.decode()
    assert globex_key_count(globex) == 2


def test_a_member_creates_keys_in_the_admin(client, globex):
    client.force_login(staff_member_of(globex))
    switch(client, globex.org.pk)
    response = client.post(
        "/admin/orgs/apikey/add/", {"project": globex.project.pk, "kind": "secret", "name": "x"}
    )
    assert 'id="issued-key"' in response.content.decode()
    assert globex_key_count(globex) == 3


def test_api_key_issue_checks_the_creator_but_not_an_operator(acme, globex):
    ann = staff_member_of(acme)
    with transaction.atomic(), pytest.raises(services.NotAMemberError):
        services.api_key_issue(project=globex.project, kind="secret", created_by=ann)
    with transaction.atomic():  # a management command: no user, no check
        services.api_key_issue(project=globex.project, kind="secret")
    assert globex_key_count(globex) == 3


def test_the_permission_is_offered_in_the_user_admin(client, acme):
    ann = staff_member_of(acme)
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))
    page = client.get(f"/admin/auth/user/{ann.pk}/change/").content.decode()
    assert "Can act for any organization in the admin" in page


# --- Login throttling ------------------------------------------------------------------------

LOGIN_PAGES = ["/login/", "/admin/login/"]


def login(client, url: str, username: str, password: str, address: str = "198.51.100.7"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def assert_locked_out(response) -> None:
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed logins" in body and "ask an administrator to unlock" in body
    assert response["Retry-After"] == "900"


@pytest.fixture
def ann(db):
    return get_user_model().objects.create_user("ann", password="right-pw", is_staff=True)


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_25_wrong_passwords_lock_the_account_even_for_the_right_one(client, ann, url):
    statuses = {login(client, url, "ann", f"wrong-{i}").status_code for i in range(25)}
    assert statuses == {200, 429}  # the form again, then the lockout page
    assert_locked_out(login(client, url, "ann", "right-pw"))
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_a_username_is_locked_after_5_failures_from_any_addresses(client, ann, url):
    for i in range(4):
        assert login(client, url, "ann", "wrong", address=f"203.0.113.{i}").status_code == 200
    assert_locked_out(login(client, url, "ann", "wrong", address="203.0.113.4"))
    assert_locked_out(login(client, url, "ann", "right-pw", address="192.0.2.99"))


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_an_address_is_locked_after_20_failures_for_any_usernames(client, ann, url):
    for i in range(19):
        assert login(client, url, f"guess{i}", "wrong").status_code == 200
    assert_locked_out(login(client, url, "guess19", "wrong"))
    assert_locked_out(login(client, url, "ann", "right-pw"))
    # Another address is not locked: ann's own count is zero.
    assert login(client, url, "ann", "right-pw", address="192.0.2.99").status_code == 302


def test_fewer_failures_than_the_limit_do_not_lock(client, ann):
    for _ in range(4):
        login(client, "/login/", "ann", "wrong")
    assert login(client, "/login/", "ann", "right-pw").status_code == 302


def test_x_forwarded_for_does_not_escape_the_address_count(client, ann):
    for i in range(20):
        client.post(
            "/login/",
            {"username": f"guess{i}", "password": "wrong"},
            REMOTE_ADDR="198.51.100.7",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        )
    assert_locked_out(login(client, "/login/", "ann", "right-pw"))


def test_a_superuser_unlocks_in_the_admin(client, ann):
    for _ in range(5):
        login(client, "/login/", "ann", "wrong")
    assert_locked_out(login(client, "/login/", "ann", "right-pw"))
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "ann" in listing.content.decode()
    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    response = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert login(client, "/login/", "ann", "right-pw").status_code == 302


def test_axes_reset_unlocks_everyone(client, ann):
    for _ in range(5):
        login(client, "/login/", "ann", "wrong")
    out = io.StringIO()
    call_command("axes_reset", stdout=out)
    assert "attempts removed" in out.getvalue()
    assert login(client, "/login/", "ann", "right-pw").status_code == 302
