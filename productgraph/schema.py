"""The root GraphQL schema, assembled from the apps' `graphql_types` modules.

The printed schema is committed as `productgraph/schema.graphql`; a test fails when it
drifts. Regenerate it with `python manage.py graphql_schema` (GRAPHENE["SCHEMA_OUTPUT"]).
"""

from __future__ import annotations

import graphene

from ingestion.graphql_types import EventQueries
from journeys.graphql_types import FunnelQueries, JourneyMutations, JourneyQueries
from orgs.graphql_types import ProjectQueries
from productgraph.graphql.nodes import node_field
from sessions.graphql_types import SessionQueries


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
