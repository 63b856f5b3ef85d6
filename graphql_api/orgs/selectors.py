"""Reads of projects and memberships behind the GraphQL API (`graphql_api.orgs.types`)."""

from __future__ import annotations

from collections.abc import Sequence

from orgs.models import Membership, Project


def membership_role(*, org_id: int, user_id: int) -> str | None:
    """Return the user's role in the current org, or None when they are not a member."""
    return (
        Membership.objects.filter(org_id=org_id, user_id=user_id)
        .values_list("role", flat=True)
        .first()
    )


def project_list_scoped(*, org_id: int, project_ids: frozenset[int] | None) -> list[Project]:
    """Return the org's projects, limited to `project_ids` unless it is None, by slug."""
    projects = Project.objects.filter(org_id=org_id)
    if project_ids is not None:
        projects = projects.filter(pk__in=project_ids)
    return list(projects.order_by("slug", "pk"))


def projects_by_public_id(public_ids: Sequence[str], *, org_id: int) -> dict[str, Project]:
    """Return the org's projects with these public ids, by public id (a loader's fetch)."""
    projects = Project.objects.filter(org_id=org_id, public_id__in=list(public_ids))
    return {project.public_id: project for project in projects}


def projects_by_id(ids: Sequence[int], *, org_id: int) -> dict[int, Project]:
    """Return the org's projects with these database ids, by id (a loader's fetch)."""
    return {project.pk: project for project in Project.objects.filter(org_id=org_id, pk__in=ids)}
