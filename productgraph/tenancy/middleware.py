"""The middleware that opens each request's transaction and the org scope inside it."""

from __future__ import annotations

from contextlib import ExitStack

from django.conf import settings
from django.db import transaction

from productgraph.api.errors import rls_violation_response, unavailable_response
from productgraph.dberrors import is_database_unavailable, is_rls_violation
from productgraph.tenancy.context import OrgScope


class TenancyMiddleware:
    """Run each request in one transaction with an `OrgScope` on `request.org_scope`.

    The org itself is chosen later, once, by whatever authenticates the request (an API
    key, the admin org switcher) through `request.org_scope.enter(org_id)`. Without that,
    the request sees zero tenant rows and cannot write any (fail closed). A response of 500
    or more, or an exception, rolls the whole transaction back.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.exempt_paths = frozenset(settings.TENANCY_EXEMPT_PATHS)

    def __call__(self, request):
        if request.path in self.exempt_paths:
            return self.get_response(request)
        try:
            outermost = not transaction.get_connection().in_atomic_block
            with transaction.atomic():
                with ExitStack() as stack:
                    request.org_scope = OrgScope(stack, outermost=outermost)
                    response = self.get_response(request)
                if getattr(request, "_tenancy_failed", False) or response.status_code >= 500:
                    transaction.set_rollback(True)
        except Exception as exc:
            if is_database_unavailable(exc):
                return unavailable_response()
            raise
        return response

    def process_exception(self, request, exception):
        """Roll back on any exception; answer RLS violations and DB outages in JSON."""
        request._tenancy_failed = True
        if is_rls_violation(exception):
            return rls_violation_response()
        if is_database_unavailable(exception):
            return unavailable_response()
        return None
