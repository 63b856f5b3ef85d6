"""`GET /health` (liveness) and `GET /ready` (readiness), api.md."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connection
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from productgraph.api.negotiation import JSONOnlyNegotiation

logger = logging.getLogger(__name__)


def _failure(check: str, exc: Exception) -> str:
    """The check's answer for anyone who asks (the exception's class); the message is logged.

    /ready needs no credentials, and a driver's message names hosts, ports and roles.
    """
    logger.warning("readiness: %s check failed: %s: %s", check, type(exc).__name__, exc)
    return f"error: {type(exc).__name__}"


def check_database() -> str:
    """Run one query as the runtime role; return 'ok' or 'error: ...'."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        connection.close()
        return _failure("database", exc)
    return "ok"


def check_redis() -> str:
    """PING Redis; return 'ok' or 'error: ...'."""
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        )
        client.ping()
    except Exception as exc:
        return _failure("redis", exc)
    return "ok"


_STATUS = {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]}
_READY = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"type": "string", "enum": ["ready", "unavailable"]},
        "checks": {
            "type": "object",
            "properties": {"database": {"type": "string"}, "redis": {"type": "string"}},
        },
    },
}


class HealthView(APIView):
    """Answer 200 while the process runs; touch no dependency."""

    content_negotiation_class = JSONOnlyNegotiation
    authentication_classes: list = []
    permission_classes = [AllowAny]
    http_method_names = ["get", "head"]  # OPTIONS too is 405 (operations.md)

    @extend_schema(operation_id="health", responses={200: OpenApiResponse(_STATUS)}, auth=[])
    def get(self, request):
        return Response({"status": "ok"})


class ReadyView(APIView):
    """Answer 200 when PostgreSQL and Redis answer, else 503 naming the failing check."""

    content_negotiation_class = JSONOnlyNegotiation
    authentication_classes: list = []
    permission_classes = [AllowAny]
    http_method_names = ["get", "head"]  # OPTIONS too is 405 (operations.md)

    @extend_schema(
        operation_id="ready",
        responses={
            200: OpenApiResponse(_READY, description="both checks ok"),
            503: OpenApiResponse(_READY, description="the failing check is named"),
        },
        auth=[],
    )
    def get(self, request):
        checks = {"database": check_database(), "redis": check_redis()}
        ok = all(value == "ok" for value in checks.values())
        return Response(
            {"status": "ready" if ok else "unavailable", "checks": checks},
            status=200 if ok else 503,
        )
