"""`/api/schema/` and `/api/docs/`: drf-spectacular's views, with their errors in JSON like
every other (api.md)."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer


class JsonErrors:
    """A DRF view whose errors answer in the JSON envelope, whatever it renders otherwise."""

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaView(JsonErrors, SpectacularAPIView):
    """The OpenAPI document as YAML or JSON; a refused `Accept` or `?format=` answers in the
    JSON envelope (drf-spectacular would render the error as YAML)."""


class DocsView(JsonErrors, SpectacularSwaggerView):
    """The Swagger UI page; a refused method, `Accept` or `?format=` answers in the JSON
    envelope, not as an HTML page."""
