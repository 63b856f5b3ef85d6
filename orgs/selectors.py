"""Reads of organizations, projects, keys and memberships."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from orgs.models import ApiKey, Membership, Organization, Project
from productgraph.tenancy.context import org_context


def organization_list() -> list[Organization]:
    """Return every organization (a global model: no org context needed)."""
    return list(Organization.objects.order_by("slug"))


def organization_get(*, slug: str) -> Organization | None:
    """Return the organization with `slug`, or None."""
    return Organization.objects.filter(slug=slug).first()


def project_get(*, org_id: int, project_id: int) -> Project | None:
    """Return a project of the current org by database id, or None."""
    return Project.objects.filter(org_id=org_id, pk=project_id).first()


def project_list(*, org_id: int) -> list[Project]:
    """Return the current org's projects."""
    return list(Project.objects.filter(org_id=org_id).order_by("slug"))


def all_orgs() -> Iterator[Organization]:
    """Yield every organization with its org context active, one at a time.

    Dangerous by design: a cross-org walk for management commands only, never for a
    request. Each org's work runs inside that org's own context.
    """
    for org in organization_list():
        with transaction.atomic(), org_context(org.pk):
            yield org


def project_find_in_all_orgs(*, public_id: str) -> Project | None:
    """Find a project by public id in whichever org holds it (commands only)."""
    for org in all_orgs():
        project = Project.objects.filter(org_id=org.pk, public_id=public_id).first()
        if project is not None:
            return project
    return None


@dataclass(frozen=True)
class KeyRecord:
    """What the key lookup function returns for one prefix."""

    id: int
    org_id: int
    project_id: int
    kind: str
    key_hash: str
    last_used_at: datetime | None
    revoked_at: datetime | None


def api_key_lookup(*, prefix: str) -> KeyRecord | None:
    """Find a key by its visible prefix before any org context exists.

    Goes through the SECURITY DEFINER function `productgraph_api_key_lookup`, which returns
    the one row with exactly that prefix and nothing else: an unauthenticated caller cannot
    list keys, projects or orgs (the tables stay under RLS for the runtime role).
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM productgraph_api_key_lookup(%s)", [prefix])
        row = cursor.fetchone()
    return KeyRecord(*row) if row else None


def api_key_list(*, org_id: int, project_id: int | None = None) -> list[ApiKey]:
    """Return the current org's keys, newest first."""
    keys = ApiKey.objects.filter(org_id=org_id).select_related("project")
    if project_id is not None:
        keys = keys.filter(project_id=project_id)
    return list(keys)


def membership_list(*, org_id: int) -> list[Membership]:
    """Return the current org's memberships."""
    return list(Membership.objects.filter(org_id=org_id).select_related("user"))
