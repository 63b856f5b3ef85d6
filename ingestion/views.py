"""POST /v1/events — batch ingestion (api.md)."""

from __future__ import annotations

import logging

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ingestion import body, ratelimit
from ingestion.errors import IngestionErrorCode
from ingestion.openapi import BATCH_REQUEST, ERROR_RESPONSE, INGEST_RESPONSE, RequiredBodySchema
from ingestion.services import events_ingest
from ingestion.validation import Project
from orgs.authentication import ApiKeyAuthentication
from orgs.selectors import project_get_cached
from productgraph.api.errors import error_body
from productgraph.api.negotiation import JSONOnlyNegotiation
from productgraph.metrics import ingest_observed

MAX_USER_AGENT = 512
logger = logging.getLogger(__name__)


def _body_stream(request, length: int | None):
    """Where to read the body from. Django reads nothing without a Content-Length, so a
    chunked body (a client streaming gzip, say) is read from the server's own input, which
    gunicorn de-chunks up to the body's end."""
    if length is None and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return request.META["wsgi.input"]
    return request


def _error(exc: body.BodyError) -> Response:
    return Response(error_body(exc.code, exc.message), status=exc.status)


class EventsView(APIView):
    """Accept a batch of events; store each valid one exactly once."""

    content_negotiation_class = JSONOnlyNegotiation
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
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
        responses={
            202: INGEST_RESPONSE,
            **{
                code: OpenApiResponse(ERROR_RESPONSE, description=description)
                for code, description in [
                    (400, "invalid_json, invalid_body or batch_too_large"),
                    (401, "missing_api_key or invalid_api_key"),
                    (403, "forbidden (a write refused by Row-Level Security)"),
                    (405, "method_not_allowed"),
                    (413, "payload_too_large"),
                    (415, "unsupported_media_type"),
                    (429, "rate_limited (with Retry-After)"),
                    (503, "unavailable (with Retry-After)"),
                ]
            },
        },
    )
    def post(self, request):
        received_at = timezone.now()
        principal = request.auth
        project = project_get_cached(org_id=principal.org_id, project_id=principal.project_id)
        if project is None:  # deleted between key lookup and now
            return Response(
                error_body("invalid_api_key", "The key's project no longer exists."), status=401
            )
        request._request.cors_allowed_origins = project.allowed_origins
        meta = request.META
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0) or None
        except ValueError:
            length = None
        try:  # api.md's order: 413 (also after decompression), then 415, then 400
            body.check_length(length)
            raw = body.read_limited(_body_stream(request._request, length))
            encoding = meta.get("HTTP_CONTENT_ENCODING", "").strip().lower()
            if encoding not in ("", "identity", "gzip"):
                raise body.BodyError(
                    415,
                    IngestionErrorCode.UNSUPPORTED_MEDIA_TYPE,
                    "Content-Encoding must be gzip or absent.",
                )
            corrupt: body.BodyError | None = None
            if encoding == "gzip":
                try:
                    raw = body.gunzip_limited(raw)
                except body.BodyError as exc:
                    if exc.status != 400:  # too large once decompressed: 413 comes first
                        raise
                    corrupt = exc  # not gzip: a 400, which a wrong content type outranks
            body.check_content_type(meta.get("CONTENT_TYPE", ""))
            if corrupt is not None:
                raise corrupt
            events = body.decode_batch(raw)
        except body.BodyError as exc:
            return _error(exc)
        decision = ratelimit.consume(
            project_id=project.pk, rate_per_second=project.rate_limit_per_second, cost=len(events)
        )
        if not decision.allowed:
            return Response(
                error_body(
                    IngestionErrorCode.RATE_LIMITED,
                    f"Project over its limit of {project.rate_limit_per_second} events/s. "
                    "Nothing was stored.",
                ),
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(decision.retry_after)},
            )
        user_agent = meta.get("HTTP_USER_AGENT", "").replace("\x00", "")[:MAX_USER_AGENT] or None
        result = events_ingest(
            org_id=principal.org_id,
            project_id=project.pk,
            project=Project(public_id=project.public_id, slug=project.slug),
            events=events,
            received_at=received_at,
            retention_days=project.org.retention_days,  # read with the project, cached
            user_agent=user_agent,
        )
        logger.info(
            "ingested project=%s accepted=%d duplicates=%d rejected=%d",
            project.public_id,
            result.accepted,
            result.duplicates,
            result.rejected,
        )
        ingest_observed(result, body_bytes=len(raw))
        return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)
