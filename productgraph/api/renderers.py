"""JSON as api.md sends it: `application/json; charset=utf-8`, errors included."""

from __future__ import annotations

from rest_framework import renderers

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer, naming its charset in Content-Type (DRF's names none)."""

    charset = "utf-8"
