"""POST /v1/batch, /v1/track, /v1/page, /v1/screen, /v1/identify, /v1/alias, /v1/group:
the Segment-spec door (segment.md, ADR 0008)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from ingestion import body
from ingestion.door import door_ingest, door_read
from ingestion.segment.mapping import answer_of, messages_map
from ingestion.segment.openapi import RESPONSES, SegmentSchema
from ingestion.segment.payload import WRITE_KEY, decode_payload
from ingestion.views import EventsView
from productgraph.api.errors import error_body


def segment_error_body(code: str, message: str) -> dict[str, Any]:
    """Our envelope, with its code and message also at the top level, where Segment's
    clients read them: analytics-python reports them, rudder-sdk-python raises KeyError
    (and retries a 400 as if the network had failed) when they are missing."""
    return {**error_body(code, message), "code": str(code), "message": message}


class SegmentView(EventsView):
    """Accept Segment-spec messages; store each one we keep exactly once.

    The plumbing is /v1/events' (405 before authentication, OPTIONS, the ingest key from a
    header, HTTP Basic, `?api_key=` or the body, JSON answers whatever is accepted).
    """

    call_type: str | None = None  # the endpoint's call type; None: /v1/batch
    schema = SegmentSchema()

    def handle_exception(self, exc):
        """Errors DRF renders (a key, a method) carry Segment's top-level fields too."""
        response = super().handle_exception(exc)
        error = response.data.get("error") if isinstance(response.data, dict) else None
        if isinstance(error, dict):
            response.data = segment_error_body(error["code"], error["message"])
        return response

    @extend_schema(responses=RESPONSES)
    def post(self, request):
        received_at = timezone.now()
        try:
            principal, project, raw, payload = door_read(
                request,
                decode=lambda raw: decode_payload(raw, single=self.call_type is not None),
                key_field=WRITE_KEY,
            )
            mapped = messages_map(
                payload.messages,
                call_type=self.call_type,
                sent_at=payload.sent_at,
                context=payload.context,
                received_at=received_at,
            )
            result = door_ingest(
                request._request,
                door="segment",
                principal=principal,
                project=project,
                events=mapped.events,
                received_at=received_at,
                body_bytes=len(raw),
                user_agents=mapped.user_agents,
                refused=len(mapped.errors),
            )
        except body.BodyError as exc:
            return Response(
                segment_error_body(exc.code, exc.message), status=exc.status, headers=exc.headers
            )
        # 200, not 202: rudder-sdk-python takes nothing else for success.
        return Response(answer_of(mapped, result.as_dict()), status=status.HTTP_200_OK)
