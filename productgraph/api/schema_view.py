"""`/api/schema/`: drf-spectacular's view, with its errors in JSON like every other (api.md)."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import JSONRenderer


class SchemaView(SpectacularAPIView):
    """The OpenAPI document as YAML or JSON; a refused `Accept` or `?format=` answers in the
    JSON envelope (drf-spectacular would render the error as YAML)."""

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
