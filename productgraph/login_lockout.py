"""Login throttling with django-axes: per username and per client address (operations.md).

Both login pages (/login/ and /admin/login/) authenticate through Django's auth, so axes'
backend sees every attempt. A username is locked after `AXES_FAILURE_LIMIT` failures from
any address, an address after `LOGIN_ADDRESS_FAILURE_LIMIT` failures for any usernames,
each within `AXES_COOLOFF_TIME` of the last failure; a locked login is refused even with the
right password and answered 429 with a page that says why.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Sum
from django.http import HttpResponse
from django.template.response import TemplateResponse

LOCKOUT_PARAMETERS = ["username", "ip_address"]


class LoginFailureHandler(AxesDatabaseHandler):
    """Axes' database handler, with a higher limit per address than per username.

    Axes compares one failure count with one limit (`AXES_FAILURE_LIMIT`, the username's);
    the address's count is shifted so that it reaches that limit exactly at
    `LOGIN_ADDRESS_FAILURE_LIMIT` failures: an office behind one NAT address is not locked
    by a handful of typos.
    """

    def get_failures(self, request, credentials: dict | None = None) -> int:
        """Return the larger of the username's count and the address's shifted count."""
        if list(settings.AXES_LOCKOUT_PARAMETERS) != LOCKOUT_PARAMETERS:
            raise ImproperlyConfigured(f"AXES_LOCKOUT_PARAMETERS must be {LOCKOUT_PARAMETERS}")
        by_username, by_address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        shift = settings.LOGIN_ADDRESS_FAILURE_LIMIT - settings.AXES_FAILURE_LIMIT
        return max(by_username, by_address - shift)


def client_address(request) -> str | None:
    """Return the address that failures are counted against: REMOTE_ADDR only.

    X-Forwarded-For is never trusted here: any client can send it, and one that rotates it
    would never be locked. Behind a proxy, REMOTE_ADDR is the proxy's (operations.md).
    """
    return request.META.get("REMOTE_ADDR")


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """Answer a locked login with 429, a page that says why and for how long, and Retry-After."""
    cooloff = settings.AXES_COOLOFF_TIME
    response = TemplateResponse(
        request,
        "registration/locked_out.html",
        {
            "username_limit": settings.AXES_FAILURE_LIMIT,
            "address_limit": settings.LOGIN_ADDRESS_FAILURE_LIMIT,
            "cooloff_minutes": int(cooloff.total_seconds() // 60),
        },
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    response["Retry-After"] = str(int(cooloff.total_seconds()))
    response.render()
    return response
