"""The admin org switcher: staff work inside one organization at a time (invariant 7).

A staff member may act for an org they are a member of (a Membership there), or for any
org if they hold the permission `orgs.act_for_any_org` (given per person in the user
admin; superusers hold every permission). The chosen org id lives in the staff member's
Django session. For every /admin/ request the middleware checks again that they still may
act for it (a membership removed later, or a session chosen before this rule, no longer
works) and enters that org's context, so each tenant admin page (lists, change pages, raw
URLs with another org's ids) sees only that org's rows: PostgreSQL enforces it.

Every switch, refused switch and withdrawn session org is logged on the
`productgraph.audit` logger: who, when (`at=`, UTC, ISO 8601), which org and through what
(`via=membership`, `via=permission`, `via=superuser`).
"""

from __future__ import annotations

import logging
from enum import StrEnum

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from orgs.models import Organization
from orgs.selectors import member_org_ids

SESSION_KEY = "admin_org_id"
ACT_FOR_ANY_ORG = "orgs.act_for_any_org"
audit = logging.getLogger("productgraph.audit")


class Access(StrEnum):
    """Why a staff member may act for an org (the audit line's `via=`)."""

    MEMBERSHIP = "membership"
    PERMISSION = "permission"
    SUPERUSER = "superuser"


def admin_org_id(request) -> int | None:
    """Return the org a staff member acts as in the admin, or None."""
    value = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    return int(value) if value else None


def admin_access(user, org_id: int) -> Access | None:
    """Return how an active staff member may act for `org_id`, or None if they may not.

    A membership counts first, so the audit line says `via=membership` whenever there is one.
    """
    if not (user.is_active and user.is_staff):
        return None
    if org_id in member_org_ids(user_id=user.pk):
        return Access.MEMBERSHIP
    if user.is_superuser:
        return Access.SUPERUSER
    if user.has_perm(ACT_FOR_ANY_ORG):
        return Access.PERMISSION
    return None


def audit_time() -> str:
    """The `at=` of an audit line: now, UTC, ISO 8601."""
    return timezone.now().isoformat()


class AdminOrgMiddleware:
    """Enter the chosen org's context for the staff member's admin requests, if still allowed."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/admin/") and hasattr(request, "org_scope"):
            user = getattr(request, "user", None)
            org_id = admin_org_id(request)
            if user is not None and user.is_active and user.is_staff and org_id:
                self._enter(request, user, org_id)
        return self.get_response(request)

    @staticmethod
    def _enter(request, user, org_id: int) -> None:
        if not Organization.objects.filter(pk=org_id).exists():
            request.session.pop(SESSION_KEY, None)
            return
        if admin_access(user, org_id) is None:
            request.session.pop(SESSION_KEY, None)
            audit.warning(
                "admin org access withdrawn user=%s org=%s at=%s reason=not_a_member",
                user.get_username(),
                org_id,
                audit_time(),
            )
            messages.error(
                request,
                f"You may no longer act for organization {org_id}: you are not a member of it"
                " and do not hold the permission to act for any organization. No organization"
                " is selected.",
            )
            return
        request.org_scope.enter(org_id)


@staff_member_required
@require_POST
def switch_org(request):
    """Make the posted org the one this staff member acts as, if they may; log either way.

    Refused (not a member, no `orgs.act_for_any_org`): an error message, the previous choice
    unchanged, and the usual redirect.
    """
    raw = request.POST.get("org_id", "")
    # isascii(): `"²".isdigit()` is true, and int("²") raises.
    org = (
        Organization.objects.filter(pk=int(raw)).first()
        if raw.isascii() and raw.isdigit()
        else None
    )
    previous = admin_org_id(request)
    username = request.user.get_username()
    if org is None:
        request.session.pop(SESSION_KEY, None)
        messages.info(request, "No organization selected: tenant pages are empty.")
        audit.info(
            "admin org switch user=%s from_org=%s to_org=None at=%s",
            username,
            previous,
            audit_time(),
        )
    elif (access := admin_access(request.user, org.pk)) is None:
        messages.error(
            request,
            f"You may not act for organization {org.pk}: you are not a member of it and do not"
            " hold the permission to act for any organization. Nothing was switched.",
        )
        audit.warning(
            "admin org switch refused user=%s from_org=%s to_org=%s at=%s reason=not_a_member",
            username,
            previous,
            org.pk,
            audit_time(),
        )
    else:
        request.session[SESSION_KEY] = org.pk
        messages.success(request, f"You are now acting as organization {org.slug}.")
        audit.info(
            "admin org switch user=%s from_org=%s to_org=%s via=%s at=%s",
            username,
            previous,
            org.pk,
            access,
            audit_time(),
        )
    target = request.POST.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("admin:index")
    return HttpResponseRedirect(target)


def admin_org_context(request) -> dict:
    """Template context for the switcher in the admin header: only the orgs one may enter."""
    if not request.path.startswith("/admin/") or not getattr(request, "user", None):
        return {}
    user = request.user
    if not (user.is_active and user.is_staff):
        return {}
    orgs = Organization.objects.order_by("slug")
    if not (user.is_superuser or user.has_perm(ACT_FOR_ANY_ORG)):
        orgs = orgs.filter(pk__in=member_org_ids(user_id=user.pk))
    return {"switcher_orgs": orgs, "switcher_org_id": admin_org_id(request)}
