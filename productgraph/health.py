"""`GET /health` (liveness) and `GET /ready` (readiness), api.md."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def health(request):
    """Answer 200 while the process runs; touch no dependency."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        connection.close_if_unusable_or_obsolete()
        return f"error: {type(exc).__name__}: {str(exc).strip()[:200]}"
    return "ok"


def _check_redis() -> str:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        )
        client.ping()
    except Exception as exc:
        return f"error: {type(exc).__name__}: {str(exc).strip()[:200]}"
    return "ok"


@require_GET
def ready(request):
    """Answer 200 when PostgreSQL (as the runtime role) and Redis answer, else 503 naming them."""
    checks = {"database": _check_database(), "redis": _check_redis()}
    ok = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ready" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )
