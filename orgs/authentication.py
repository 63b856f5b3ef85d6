"""DRF authentication by API key: `X-PG-API-Key: <key>` or `Authorization: Bearer <key>`.

The ingestion doors also take an ingest key where a client cannot set headers (api.md,
"Keys without headers"): `?api_key=` (a beacon, a pixel), HTTP Basic with the key as the
user (Segment's clients), or a key in the body (`api_key`, Segment's `writeKey`), which
only the door can read, after the body: `IngestKeyAuthentication` then defers to it.

The key alone decides organization and project (api.md). The key row is found by prefix
through a SECURITY DEFINER function (no org context exists yet), compared in constant time,
and only then is the org context entered for the rest of the request.
"""

from __future__ import annotations

import base64
import binascii
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
    CONFLICTING_API_KEYS = "conflicting_api_keys"


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


QUERY_KEY_PARAMETER = "api_key"


def presented_key(request, *, basic: bool = False) -> str | None:
    """Return the key a request's headers present, or None when they present none.

    With `basic`, `Authorization: Basic base64(<key>:)` presents its user as the key (how
    Segment's clients send a write key; the password is ignored, as Segment does).
    """
    header = request.META.get("HTTP_X_PG_API_KEY", "").strip()
    if header:  # a blank header presents nothing: the Authorization header may
        return header
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if basic and scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None  # not Basic credentials at all (a bare key, say): no key presented
        return decoded.partition(":")[0].strip() or None
    return None


def _conflict() -> CodedAPIException:
    return CodedAPIException(
        AuthErrorCode.CONFLICTING_API_KEYS,
        "The request presents two different API keys (header, query string or body); send one.",
        status.HTTP_400_BAD_REQUEST,
    )


def _ingest_only(raw: str) -> None:
    """A key outside the headers (query string, body) may only be an ingest key: a URL or
    a body ends up in places a header does not (proxies, browser history, pages)."""
    if keys.is_well_formed(raw) and not raw.startswith(keys.KIND_PREFIXES["ingest"]):
        raise CodedAPIException(
            AuthErrorCode.WRONG_KEY_KIND,
            "Only an ingest key (pk_) may be sent in the query string or the body; send a "
            "secret key in the X-PG-API-Key or Authorization header.",
            status.HTTP_401_UNAUTHORIZED,
        )


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


class IngestKeyAuthentication(ApiKeyAuthentication):
    """The ingestion doors' key: a header, HTTP Basic, or `?api_key=` (ingest keys only).

    With none of them it authenticates nobody, so the door may find the key in the body
    (`ingest_key_from_body`); a header and a different query key together are a 400.
    """

    def authenticate(self, request):
        header = presented_key(request, basic=True)
        queried = {value.strip() for value in request._request.GET.getlist(QUERY_KEY_PARAMETER)}
        queried.discard("")
        if len(queried) > 1 or (header is not None and queried and queried != {header}):
            raise _conflict()  # never one of two keys picked silently
        query = next(iter(queried), None)
        if query is not None:  # even beside the same key in a header: it is in a URL now
            _ingest_only(query)
        raw = header or query
        if raw is None:
            return None
        principal = authenticate_key(raw)
        request.org_scope.enter(principal.org_id)
        record_last_used(principal)
        request._request.presented_api_key = raw
        return principal, principal


def ingest_key_from_body(request, body_key: str | None) -> ApiKeyPrincipal:
    """The principal of a door's request, once its body has been read.

    `body_key` is the key the body carries (`api_key`, `writeKey`), or None. A request
    already authenticated by `IngestKeyAuthentication` keeps its principal (a different
    body key is a 400); otherwise the body key authenticates it (ingest keys only), and
    with no key anywhere the answer is 401 `missing_api_key`.
    """
    if body_key is not None:  # even beside the same key in a header: it is in a body now
        _ingest_only(body_key)
    if request.auth is not None:
        if body_key is not None and body_key != request._request.presented_api_key:
            raise _conflict()
        return request.auth
    if body_key is None:
        raise CodedAPIException(
            AuthErrorCode.MISSING_API_KEY,
            "Send the project's API key as X-PG-API-Key, Authorization: Bearer or Basic, "
            "?api_key=, or in the body (api_key; Segment's writeKey).",
            status.HTTP_401_UNAUTHORIZED,
        )
    principal = authenticate_key(body_key)
    request.org_scope.enter(principal.org_id)
    record_last_used(principal)
    request.user = request.auth = principal
    return principal


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
