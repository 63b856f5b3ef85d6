"""CORS for POST /v1/events only, with each project's allowed origins (api.md).

django-cors-headers does the work; this subclass adds what the contract needs on top:
a 204 preflight, and the project's own origin list, known only once the view has
authenticated the key (a preflight carries no key, so it is answered for any origin).
"""

from __future__ import annotations

import re

from corsheaders.middleware import CorsMiddleware
from django.utils.cache import patch_vary_headers

# Reflect only an origin that looks like one; anything else gets no CORS headers.
_ORIGIN = re.compile(r"\A(null|[a-z][a-z0-9+.-]*://[A-Za-z0-9.\-\[\]:]+)\Z")


class ProjectCorsMiddleware(CorsMiddleware):
    """django-cors-headers, restricted per project by `request.cors_allowed_origins`."""

    def check_preflight(self, request):
        response = super().check_preflight(request)
        if response is not None:
            response.status_code = 204
            del response["Content-Type"]  # no body, so no media type
        return response

    def add_response_headers(self, request, response):
        origin = request.headers.get("origin")
        allowed = getattr(request, "cors_allowed_origins", None)
        if (origin is not None and not _ORIGIN.match(origin)) or (
            allowed and origin not in allowed
        ):
            # No CORS headers for this origin, but the answer still depends on it: a
            # shared cache must not serve it to an allowed origin (api.md: Vary: Origin).
            patch_vary_headers(response, ("origin",))
            return response
        return super().add_response_headers(request, response)
