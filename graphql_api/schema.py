"""The root GraphQL schema, assembled from each domain's `types` module.

The printed schema is committed as `graphql_api/schema.graphql`; a test fails when it
drifts. Regenerate it with `python manage.py graphql_schema` (GRAPHENE["SCHEMA_OUTPUT"]).
"""

from __future__ import annotations

import graphene

from graphql_api.events.types import EventQueries
from graphql_api.journeys.funnels import FunnelQueries
from graphql_api.journeys.mutations import JourneyMutations
from graphql_api.journeys.types import JourneyQueries
from graphql_api.orgs.types import ProjectQueries
from graphql_api.sessions.types import SessionQueries
from productgraph.graphql.nodes import node_field


# graphene lists the fields of later bases first: this order prints projects first.
class Query(
    FunnelQueries,
    JourneyQueries,
    SessionQueries,
    EventQueries,
    ProjectQueries,
    graphene.ObjectType,
):
    """Everything an analyst may read, inside one organization."""

    node = node_field()


class Mutation(JourneyMutations, graphene.ObjectType):
    """Changes: logged-in editors and admins only (a secret key reads)."""


schema = graphene.Schema(query=Query, mutation=Mutation)
