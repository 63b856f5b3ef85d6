"""The admin org switcher: staff work inside one organization at a time (invariant 7).

The chosen org id lives in the staff member's Django session. For every /admin/ request
the middleware enters that org's context, so each tenant admin page (lists, change pages,
raw URLs with another org's ids) sees only that org's rows: PostgreSQL enforces it. Every
switch is logged on the `productgraph.audit` logger.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from orgs.models import Organization

SESSION_KEY = "admin_org_id"
audit = logging.getLogger("productgraph.audit")


def admin_org_id(request) -> int | None:
    """Return the org a staff member acts as in the admin, or None."""
    value = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    return int(value) if value else None


class AdminOrgMiddleware:
    """Enter the chosen org's context for the staff member's admin requests."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/admin/") and hasattr(request, "org_scope"):
            user = getattr(request, "user", None)
            org_id = admin_org_id(request)
            if user is not None and user.is_active and user.is_staff and org_id:
                if Organization.objects.filter(pk=org_id).exists():
                    request.org_scope.enter(org_id)
                else:
                    request.session.pop(SESSION_KEY, None)
        return self.get_response(request)


@staff_member_required
@require_POST
def switch_org(request):
    """Make the posted org the one this staff member acts as; log the switch."""
    raw = request.POST.get("org_id", "")
    # isascii(): `"²".isdigit()` is true, and int("²") raises.
    org = (
        Organization.objects.filter(pk=int(raw)).first()
        if raw.isascii() and raw.isdigit()
        else None
    )
    previous = admin_org_id(request)
    if org is None:
        request.session.pop(SESSION_KEY, None)
        messages.info(request, "No organization selected: tenant pages are empty.")
    else:
        request.session[SESSION_KEY] = org.pk
        messages.success(request, f"You are now acting as organization {org.slug}.")
    audit.info(
        "admin org switch user=%s from_org=%s to_org=%s",
        request.user.get_username(),
        previous,
        org.pk if org else None,
    )
    target = request.POST.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("admin:index")
    return HttpResponseRedirect(target)


def admin_org_context(request) -> dict:
    """Template context for the switcher in the admin header."""
    if not request.path.startswith("/admin/") or not getattr(request, "user", None):
        return {}
    if not (request.user.is_active and request.user.is_staff):
        return {}
    return {
        "switcher_orgs": Organization.objects.order_by("slug"),
        "switcher_org_id": admin_org_id(request),
    }
