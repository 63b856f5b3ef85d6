"""GraphQL types of orgs: `Project`, the `projects` / `project` queries, project lookups.

Every other app's resolvers find the project a query names through `project_for`, which
answers None for a project of another org (RLS: the row is invisible) and for a project of
the same org outside a secret key's scope alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import graphene
from graphene import relay

from graphql_api.orgs.selectors import project_list_scoped, projects_by_id, projects_by_public_id
from orgs.models import Project
from productgraph.graphql.context import loaders_of, org_id_of, principal_of
from productgraph.graphql.pagination import DATETIME, INT, Page, decode_cursor, page_size


def project_for(info: Any, public_id: str) -> Project | None:
    """Return the project with this public id if the caller may see it, else None."""
    org_id = org_id_of(info)
    loaders = loaders_of(info)
    project = loaders.get(projects_by_public_id, org_id=org_id).load(public_id)
    if project is None or not principal_of(info).allows_project(project.pk):
        return None
    loaders.get(projects_by_id, org_id=org_id).prime(project.pk, project)
    return project


def project_page(
    info: Any,
    project_id: str,
    *,
    first: int | None,
    after: str | None,
    kind: str,
    fetch: Callable[..., Sequence[Any]],
    key: Callable[[Any], tuple[Any, ...]],
) -> Page[Any]:
    """A keyset page of a project's rows by (timestamp, id): empty when the caller cannot
    see the project. `fetch(org_id=, project_id=, first=, after=)` returns up to
    `first + 1` rows after the decoded cursor; `key` gives a row's cursor position."""
    size = page_size(first)
    position = decode_cursor(after, kind, (DATETIME, INT))
    project = project_for(info, project_id)
    if project is None:
        return Page.empty()
    rows = fetch(org_id=org_id_of(info), project_id=project.pk, first=size, after=position)
    return Page.of(list(rows), first=size, kind=kind, key=key)


def project_load(info: Any, project_id: int) -> Project | None:
    """Return the project with this database id if the caller may see it (batched)."""
    if not principal_of(info).allows_project(project_id):
        return None
    return loaders_of(info).get(projects_by_id, org_id=org_id_of(info)).load(project_id)


def expect_projects(info: Any, project_ids: Any) -> None:
    """Announce the projects a page's rows will load (one query for the page)."""
    loaders_of(info).expect(projects_by_id, project_ids)


class ProjectType(graphene.ObjectType):
    """A project of the organization: where events go."""

    class Meta:
        name = "Project"
        interfaces = (relay.Node,)

    public_id = graphene.String(
        required=True, description="`proj_...`: what every `projectId` argument takes."
    )
    name = graphene.String(required=True)
    slug = graphene.String(required=True)
    session_timeout_minutes = graphene.Int(
        required=True, description="Idle minutes after which a session ends."
    )
    created_at = graphene.DateTime(required=True)

    @classmethod
    def is_type_of(cls, root: Any, info: Any) -> bool:
        return isinstance(root, Project)

    @classmethod
    def get_node(cls, info: Any, id: str) -> Project | None:
        return project_load(info, int(id)) if id.isascii() and id.isdigit() else None


class ProjectQueries(graphene.ObjectType):
    """Root fields of projects."""

    projects = graphene.List(
        graphene.NonNull(ProjectType),
        required=True,
        description="The projects the caller may see: the key's project, or the org's.",
    )
    project = graphene.Field(
        ProjectType,
        public_id=graphene.String(required=True),
        description="One project by public id; null when it does not exist for the caller.",
    )

    @staticmethod
    def resolve_projects(root: Any, info: Any) -> list[Project]:
        return project_list_scoped(
            org_id=org_id_of(info), project_ids=principal_of(info).project_ids
        )

    @staticmethod
    def resolve_project(root: Any, info: Any, public_id: str) -> Project | None:
        return project_for(info, public_id)
