"""Content negotiation for the JSON-only endpoints: the answer is JSON whatever is asked.

DRF's default negotiation answers 406 to `Accept: text/plain` and 404 to `?format=xml`;
api.md has neither, and a beacon or an SDK that sends an odd Accept header must still get
its 202 (or its documented error). Request parsing is DRF's, unchanged.
"""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """Always the view's first renderer (JSON), whatever the Accept header or `?format=`."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type
