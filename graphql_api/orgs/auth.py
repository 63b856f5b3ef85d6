"""Who a `/graphql` request acts as: a project secret key, or a member of an org.

- `Authorization: Bearer sk_...` or `X-PG-API-Key: sk_...`: the key's project, read only
  (tenancy.md: a secret key "reads: GraphQL"; mutations are for editors and admins). An
  ingest key (`pk_`) is refused with `wrong_key_kind`: it is embedded in browsers and may
  only send events.
- Otherwise a logged-in Django user, acting in the org named by the header
  `X-PG-Org: <org slug>` (or `?org=<slug>`), through their Membership there: viewers read,
  editors and admins also write. An unknown slug and an org the user is not a member of
  get the same answer.

The org is entered through `request.org_scope`, once, before any resolver runs.
"""

from __future__ import annotations

from django.core.validators import slug_re
from django.http import HttpRequest

from graphql_api.orgs.selectors import membership_role
from orgs.authentication import (
    ApiKeyPrincipal,
    AuthErrorCode,
    authenticate_key,
    presented_key,
    record_last_used,
)
from orgs.models import ApiKey, Membership
from orgs.selectors import organization_get
from productgraph.api.errors import CodedAPIException, ErrorCode
from productgraph.graphql.context import Principal
from productgraph.graphql.errors import RequestRefused

ORG_HEADER = "X-PG-Org"
WRITER_ROLES = frozenset({Membership.Role.EDITOR, Membership.Role.ADMIN})


def graphql_principal(request: HttpRequest) -> Principal:
    """Authenticate a GraphQL request and enter its org; raise RequestRefused otherwise."""
    raw = presented_key(request)
    if raw is not None:
        return _key_principal(request, raw)
    return _member_principal(request)


def _key_principal(request: HttpRequest, raw: str) -> Principal:
    try:
        key: ApiKeyPrincipal = authenticate_key(raw)
    except CodedAPIException as exc:
        raise RequestRefused(exc.status_code, str(exc.get_codes()), str(exc.detail)) from None
    if key.kind != ApiKey.Kind.SECRET:
        raise RequestRefused(
            403,
            AuthErrorCode.WRONG_KEY_KIND,
            "This is an ingest key (pk_): it may only send events. "
            "Use a secret key (sk_) of the project for GraphQL.",
        )
    request.org_scope.enter(key.org_id)  # type: ignore[attr-defined]
    record_last_used(key)
    return Principal(
        org_id=key.org_id, project_ids=frozenset({key.project_id}), can_write=False, by_key=True
    )


def _member_principal(request: HttpRequest) -> Principal:
    user = request.user
    if not user.is_authenticated:
        raise RequestRefused(
            401,
            ErrorCode.NOT_AUTHENTICATED,
            "Send a project secret key (Authorization: Bearer sk_...) or log in.",
        )
    slug = (request.headers.get(ORG_HEADER) or request.GET.get("org") or "").strip()
    if not slug:
        # Only introspection may run without an org (the view checks); it sees no rows.
        return Principal(org_id=None, project_ids=frozenset(), can_write=False, by_key=False)
    # Not slug-shaped (a NUL byte would even fail the query): the answer of an unknown slug.
    org = organization_get(slug=slug) if slug_re.match(slug) else None
    if org is None:
        raise _not_a_member()
    # Memberships are under RLS: read the user's role inside the org. When there is none
    # the request is refused right here, before anything else runs in that org.
    request.org_scope.enter(org.pk)  # type: ignore[attr-defined]
    role = membership_role(org_id=org.pk, user_id=user.pk)
    if role is None:
        raise _not_a_member()
    return Principal(org_id=org.pk, project_ids=None, can_write=role in WRITER_ROLES, by_key=False)


def _not_a_member() -> RequestRefused:
    # The same answer for an unknown slug and for an org the user is not a member of.
    return RequestRefused(
        403, ErrorCode.FORBIDDEN, "You are not a member of an organization with that slug."
    )
