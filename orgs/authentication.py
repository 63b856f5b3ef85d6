"""DRF authentication by API key: `X-PG-API-Key: <key>` or `Authorization: Bearer <key>`.

The key alone decides organization and project (api.md). The key row is found by prefix
through a SECURITY DEFINER function (no org context exists yet), compared in constant time,
and only then is the org context entered for the rest of the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.utils import timezone
from rest_framework import status
from rest_framework.authentication import BaseAuthentication

from orgs import keys, selectors, services
from productgraph.api.errors import CodedAPIException


class AuthErrorCode(StrEnum):
    """Stable codes of key authentication errors (api.md)."""

    MISSING_API_KEY = "missing_api_key"
    INVALID_API_KEY = "invalid_api_key"
    WRONG_KEY_KIND = "wrong_key_kind"


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """Who a request authenticated as: one key of one project of one org."""

    key_id: int
    org_id: int
    project_id: int
    kind: str
    last_used_at: datetime | None = None

    is_authenticated = True
    is_anonymous = False


def presented_key(request) -> str | None:
    """Return the key a request presents, or None when it presents none."""
    header = request.META.get("HTTP_X_PG_API_KEY", "").strip()
    if header:  # a blank header presents nothing: the Authorization header may
        return header
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _invalid() -> CodedAPIException:
    return CodedAPIException(
        AuthErrorCode.INVALID_API_KEY, "Unknown or revoked API key.", status.HTTP_401_UNAUTHORIZED
    )


def authenticate_key(raw: str) -> ApiKeyPrincipal:
    """Resolve a presented key to its principal, or raise 401 `invalid_api_key`."""
    if not keys.is_well_formed(raw):
        raise _invalid()
    record = selectors.api_key_lookup(prefix=keys.prefix_of(raw))
    # Compare even when nothing was found, so timing does not tell prefixes apart.
    stored = record.key_hash if record else keys.digest("")
    if not keys.matches(raw, stored) or record is None or record.revoked_at is not None:
        raise _invalid()
    return ApiKeyPrincipal(
        key_id=record.id,
        org_id=record.org_id,
        project_id=record.project_id,
        kind=record.kind,
        last_used_at=record.last_used_at,
    )


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticate by API key and enter the key's org context for the rest of the request."""

    def authenticate(self, request):
        raw = presented_key(request)
        if raw is None:
            raise CodedAPIException(
                AuthErrorCode.MISSING_API_KEY,
                "Send the project's API key as X-PG-API-Key or Authorization: Bearer.",
                status.HTTP_401_UNAUTHORIZED,
            )
        principal = authenticate_key(raw)
        request.org_scope.enter(principal.org_id)
        record_last_used(principal)
        return principal, principal

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="productgraph"'


# key id -> when this process last wrote last_used_at (seconds since the epoch)
_last_touched: dict[int, float] = {}


def record_last_used(principal: ApiKeyPrincipal) -> None:
    """Keep last_used_at to the minute without a write per request."""
    now = timezone.now().timestamp()
    stored = principal.last_used_at.timestamp() if principal.last_used_at else 0.0
    last = max(_last_touched.get(principal.key_id, 0.0), stored)
    if now - last < services.LAST_USED_RESOLUTION_SECONDS:
        return
    _last_touched[principal.key_id] = now
    services.api_key_touch(key_id=principal.key_id, org_id=principal.org_id)
