"""What every ingestion door shares once it holds events in our wire format (api.md).

A door (`/v1/events`, OTLP/HTTP, the Segment spec) reads its body with
`body.read_request_body`, maps what it reads to events, and hands them to `door_ingest`:
the key's project, the rate limit, validation, the exactly-once write, the log line and the
metrics are then the same for every door, so no door can store an event another would refuse.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from django.http import HttpRequest
from rest_framework import status

from ingestion import ratelimit
from ingestion.body import BodyError, key_in_raw, read_request_body
from ingestion.errors import IngestionErrorCode
from ingestion.services import IngestResult, events_ingest
from ingestion.validation import Project
from orgs.authentication import ApiKeyPrincipal, AuthErrorCode, ingest_key_from_body
from orgs.models import Project as ProjectRecord
from orgs.selectors import project_get_cached
from productgraph.metrics import ingest_observed

MAX_USER_AGENT = 512
Body = TypeVar("Body", bound="KeyedBody")
logger = logging.getLogger("ingestion.views")  # operations.md names it; one line per batch


def clean_user_agent(value: str) -> str | None:
    """A User-Agent as stored with events: NULs dropped, at most 512 characters."""
    return value.replace("\x00", "")[:MAX_USER_AGENT] or None


def door_project(request: HttpRequest, principal: ApiKeyPrincipal) -> ProjectRecord:
    """The key's project (cached, at most 5 s old), whose CORS origins now apply to the
    answer; `BodyError` 401 when it was deleted since the key was looked up."""
    project = project_get_cached(org_id=principal.org_id, project_id=principal.project_id)
    if project is None:
        raise BodyError(
            status.HTTP_401_UNAUTHORIZED,
            AuthErrorCode.INVALID_API_KEY,
            "The key's project no longer exists.",
        )
    request.cors_allowed_origins = project.allowed_origins  # type: ignore[attr-defined]
    return project


class KeyedBody(Protocol):
    """A decoded body that may carry the request's key."""

    @property
    def key(self) -> str | None: ...


def door_read(
    request, *, decode: Callable[[bytes], Body], key_field: str
) -> tuple[ApiKeyPrincipal, ProjectRecord, bytes, Body]:
    """Authenticate a JSON door's request and read its body, in api.md's order.

    `request` is DRF's, authenticated by `IngestKeyAuthentication` (a header, HTTP Basic or
    `?api_key=`), or by nobody: then the key is the one the body carries in `key_field`
    (`decode`'s result's `.key`). Returns the principal, its project, the body's bytes
    (decompressed) and what `decode` made of them. Raises `BodyError` (413, 415, 400) for
    the body, once its key is known (a body that is not what the door takes but names a
    valid key gets the body's error), or the key's errors: 401 with no key anywhere, 400
    `conflicting_api_keys` when the body names another key than the request's.
    """
    http_request = request._request
    principal: ApiKeyPrincipal | None = request.auth
    project = None if principal is None else door_project(http_request, principal)
    raw = b""
    try:
        raw, _ = read_request_body(http_request)
        decoded = decode(raw)
    except BodyError:
        if principal is None:  # its key, if the body names one: else 401, not the 400
            door_project(http_request, ingest_key_from_body(request, key_in_raw(raw, key_field)))
        raise
    key = decoded.key
    if principal is None or project is None:
        principal = ingest_key_from_body(request, key)
        project = door_project(http_request, principal)
    else:
        ingest_key_from_body(request, key)  # the same key, or a 400
    return principal, project, raw, decoded


def door_ingest(
    request: HttpRequest,
    *,
    door: str,
    principal: ApiKeyPrincipal,
    project: ProjectRecord,
    events: list[Any],
    received_at: datetime,
    body_bytes: int,
    user_agents: dict[int, str] | None = None,
    refused: int = 0,
) -> IngestResult:
    """Store `events` for the key's project exactly once, or raise `BodyError` 429 (with
    Retry-After; nothing stored) when the project is over its rate limit.

    `door` names the door in the log line; `body_bytes` counts in the metrics. Every event
    is stored with the request's User-Agent, but those `user_agents` names by position.
    `refused` counts the records the door itself could not map to events (a Segment call
    without a user, an OTLP record without `session.id`): rejected in the log line and the
    metrics like the events validation refuses, though not in the returned result.
    """
    decision = ratelimit.consume(
        project_id=project.pk, rate_per_second=project.rate_limit_per_second, cost=len(events)
    )
    if not decision.allowed:
        raise BodyError(
            status.HTTP_429_TOO_MANY_REQUESTS,
            IngestionErrorCode.RATE_LIMITED,
            f"Project over its limit of {project.rate_limit_per_second} events/s. "
            "Nothing was stored.",
            headers={"Retry-After": str(decision.retry_after)},
        )
    result = events_ingest(
        org_id=principal.org_id,
        project_id=project.pk,
        project=Project(public_id=project.public_id, slug=project.slug),
        events=events,
        received_at=received_at,
        retention_days=project.org.retention_days,  # read with the project, cached
        user_agent=clean_user_agent(request.META.get("HTTP_USER_AGENT", "")),
        user_agents={
            position: agent
            for position, value in (user_agents or {}).items()
            if (agent := clean_user_agent(value)) is not None
        },
    )
    logger.info(
        "ingested project=%s accepted=%d duplicates=%d rejected=%d door=%s",
        project.public_id,
        result.accepted,
        result.duplicates,
        result.rejected + refused,
        door,
    )
    ingest_observed(result, body_bytes=body_bytes, refused=refused)
    return result
