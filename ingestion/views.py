"""POST /v1/events — batch ingestion (api.md)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from ingestion import body
from ingestion.door import door_ingest, door_read
from ingestion.openapi import (
    BATCH_REQUEST,
    ERROR_RESPONSE,
    INGEST_RESPONSE,
    RequiredBodySchema,
    error_responses,
)
from orgs.authentication import IngestKeyAuthentication
from productgraph.api.errors import error_body
from productgraph.api.negotiation import JSONOnlyNegotiation


class EventsView(APIView):
    """Accept a batch of events; store each valid one exactly once."""

    content_negotiation_class = JSONOnlyNegotiation
    authentication_classes = [IngestKeyAuthentication]
    permission_classes: list = []  # the key may be in the body: post() authenticates then
    parser_classes: list = []  # the body is read, size-checked and decoded here
    http_method_names = ["post", "options"]
    schema = RequiredBodySchema()

    def initial(self, request, *args, **kwargs):
        """405 before authentication (api.md's order): DRF authenticates first."""
        if request.method.lower() not in self.http_method_names:
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def options(self, request, *args, **kwargs):
        """An OPTIONS that is not a CORS preflight (those are answered before the view):
        204 and the methods, not DRF's description of the view."""
        return Response(status=status.HTTP_204_NO_CONTENT, headers={"Allow": "POST, OPTIONS"})

    @extend_schema(
        operation_id="ingest_events",
        request={"application/json": BATCH_REQUEST, "text/plain": BATCH_REQUEST},
        responses={202: INGEST_RESPONSE, **error_responses(ERROR_RESPONSE)},
    )
    def post(self, request):
        received_at = timezone.now()
        try:
            principal, project, raw, batch = door_read(
                request, decode=body.decode_batch, key_field=body.BODY_KEY
            )
            result = door_ingest(
                request._request,
                door="events",
                principal=principal,
                project=project,
                events=batch.events,
                received_at=received_at,
                body_bytes=len(raw),
            )
        except body.BodyError as exc:
            return Response(
                error_body(exc.code, exc.message), status=exc.status, headers=exc.headers
            )
        return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)
