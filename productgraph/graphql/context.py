"""Who a GraphQL request acts as, and the per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from productgraph.api.errors import ErrorCode
from productgraph.graphql.errors import CodedGraphQLError
from productgraph.graphql.limits import AnalyticBudget
from productgraph.graphql.loaders import Loaders


@dataclass(frozen=True)
class Principal:
    """The org a request acts in, the projects it may see, and whether it may write.

    `project_ids` is None for a member of the org (every project of the org), or the one
    project of a secret key. `org_id` is None only for a logged-in user who chose no org:
    such a request may introspect the schema (GraphiQL's docs) and nothing else.
    """

    org_id: int | None
    project_ids: frozenset[int] | None
    can_write: bool
    by_key: bool

    def allows_project(self, project_id: int) -> bool:
        """True when this principal may see the project with database id `project_id`."""
        return self.project_ids is None or project_id in self.project_ids


@dataclass
class GraphQLContext:
    """`info.context` of every resolver: the request, its principal, its loaders, and the
    time its analytic fields may still spend."""

    request: HttpRequest
    principal: Principal
    loaders: Loaders = field(default_factory=Loaders)
    analytic_budget: AnalyticBudget = field(default_factory=AnalyticBudget)


def principal_of(info: Any) -> Principal:
    """Return the principal of the request a resolver runs for."""
    return info.context.principal


def org_id_of(info: Any) -> int:
    """Return the org the request acts in (resolvers only run once an org is entered)."""
    org_id = principal_of(info).org_id
    if org_id is None:  # the view lets only introspection through without an org
        raise CodedGraphQLError(ErrorCode.FORBIDDEN, "No organization chosen.")
    return org_id


def analytic_timeout_ms(info: Any) -> int:
    """The statement timeout of the analytic field being resolved: its share of the
    request's budget (`query_timeout` when the budget is spent)."""
    return info.context.analytic_budget.take()


def loaders_of(info: Any) -> Loaders:
    """Return the request's loaders."""
    return info.context.loaders


def require_write(info: Any) -> Principal:
    """Return the principal when it may mutate; raise `forbidden` for a key or a viewer."""
    principal = principal_of(info)
    if principal.can_write:
        return principal
    if principal.by_key:
        message = (
            "A secret key may read but not change anything: log in as an editor or admin of "
            "the organization (or use the admin) to change journeys."
        )
    else:
        message = "Viewers may read but not change anything: ask for editor."
    raise CodedGraphQLError(ErrorCode.FORBIDDEN, message)
