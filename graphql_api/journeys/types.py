"""GraphQL types of journeys: `Journey` with stored metrics, and a session's journey rows.

The mutations are in `mutations.py` (through `journeys.services`), funnels in
`funnels.py`. A definition's `DefinitionError` becomes the error `invalid_definition` with
every problem listed in `extensions.problems` (`invalid_definition` below).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import graphene
from graphene import relay

from graphql_api.journeys.selectors import journey_get, journey_get_scoped, journey_list
from graphql_api.orgs.types import ProjectType, expect_projects, project_for, project_load
from journeys.conditions import DefinitionError
from journeys.models import Journey, SessionJourney
from productgraph.graphql.context import (
    org_id_of,
    principal_of,
)
from productgraph.graphql.errors import CodedGraphQLError
from productgraph.graphql.scalars import JSON

MAX_NAME_LENGTH = 255


class JourneyErrorCode(StrEnum):
    """Codes of journey mutations."""

    INVALID_DEFINITION = "invalid_definition"
    JOURNEY_EXISTS = "journey_exists"


JourneyStatus = graphene.Enum.from_enum(
    SessionJourney.Status,
    name="JourneyStatus",  # type: ignore[call-arg]
    description="Where a session stands in a journey (analytics.md).",
)


class JourneyStepMetrics(graphene.ObjectType):
    """How many sessions reached one step, and how many stopped before it."""

    id = graphene.String(required=True)
    name = graphene.String(required=True)
    reached = graphene.Int(required=True)
    drop_off = graphene.Int(
        required=True,
        description="Sessions that reached the previous step (or entered) but not this one.",
    )


class JourneyStatusCount(graphene.ObjectType):
    """The number of the journey's sessions in one status."""

    status = graphene.Field(JourneyStatus, required=True)
    count = graphene.Int(required=True)

    @staticmethod
    def resolve_status(root: tuple[str, int], info: Any) -> str:
        return root[0]

    @staticmethod
    def resolve_count(root: tuple[str, int], info: Any) -> int:
        return root[1]


class JourneyMetrics(graphene.ObjectType):
    """A journey's stored metrics, as of `refreshedAt` (refreshed by a beat task)."""

    total_sessions = graphene.Int(required=True)
    converted = graphene.Int(required=True)
    conversion_rate = graphene.Float(required=True, description="converted / totalSessions")
    avg_duration_ms = graphene.BigInt(description="Mean time to convert.")
    median_duration_ms = graphene.BigInt(description="Median time to convert.")
    by_status = graphene.List(graphene.NonNull(JourneyStatusCount), required=True)
    steps = graphene.List(graphene.NonNull(JourneyStepMetrics), required=True)
    refreshed_at = graphene.DateTime(required=True)

    @staticmethod
    def resolve_by_status(root: dict, info: Any) -> list[tuple[str, int]]:
        stored = root.get("by_status", {})
        return [(status, stored.get(status, 0)) for status in SessionJourney.Status.values]


class JourneyType(graphene.ObjectType):
    """A named, per-project journey definition and its stored metrics."""

    class Meta:
        name = "Journey"
        interfaces = (relay.Node,)

    key = graphene.String(required=True, description="The `gen_ai.journey.id` on the wire.")
    project = graphene.Field(ProjectType, required=True)
    name = graphene.String(required=True)
    description = graphene.String(required=True)
    entry = JSON(required=True, description="Entry conditions (empty: step 1 enters).")
    steps = JSON(required=True, description="Ordered steps: {id, name, match, optional}.")
    exit = JSON(required=True, description="Exit conditions (a match converts).")
    timeout_minutes = graphene.Int(required=True)
    is_active = graphene.Boolean(required=True)
    metrics = graphene.Field(JourneyMetrics, description="Null until first refreshed.")
    created_at = graphene.DateTime(required=True)
    updated_at = graphene.DateTime(required=True)

    @classmethod
    def is_type_of(cls, root: Any, info: Any) -> bool:
        return isinstance(root, Journey)

    @classmethod
    def get_node(cls, info: Any, id: str) -> Journey | None:
        if not id.isdigit():
            return None
        return journey_get_scoped(
            org_id=org_id_of(info), journey_pk=int(id), project_ids=principal_of(info).project_ids
        )

    @staticmethod
    def resolve_project(root: Journey, info: Any) -> Any:
        return project_load(info, root.project_id)

    @staticmethod
    def resolve_metrics(root: Journey, info: Any) -> dict | None:
        if not root.metrics or root.metrics_refreshed_at is None:
            return None
        return {**root.metrics, "refreshed_at": root.metrics_refreshed_at}


class SessionJourneyType(graphene.ObjectType):
    """Where one session stands in one journey."""

    class Meta:
        name = "SessionJourney"

    journey = graphene.Field(JourneyType, required=True)
    session_id = graphene.String(required=True)
    status = graphene.Field(JourneyStatus, required=True)
    entered_at = graphene.DateTime(required=True)
    last_step_id = graphene.String(description="Null: only the entry was reached.")
    last_step_index = graphene.Int(
        required=True, description="0-based index of the last step reached; -1: entry only."
    )
    converted_at = graphene.DateTime()
    duration_ms = graphene.BigInt(required=True)

    @staticmethod
    def resolve_last_step_id(root: SessionJourney, info: Any) -> str | None:
        return root.last_step_id or None


class JourneyQueries(graphene.ObjectType):
    """Root fields of journeys."""

    journeys = graphene.List(
        graphene.NonNull(JourneyType),
        required=True,
        project_id=graphene.String(required=True, description="The project's public id."),
        description="A project's journeys by key, with their stored metrics.",
    )
    journey = graphene.Field(
        JourneyType,
        project_id=graphene.String(required=True),
        key=graphene.String(required=True),
        description="One journey by key; null when it does not exist.",
    )

    @staticmethod
    def resolve_journeys(root: Any, info: Any, project_id: str) -> list[Journey]:
        project = project_for(info, project_id)
        if project is None:
            return []
        journeys = journey_list(org_id=org_id_of(info), project_id=project.pk)
        expect_projects(info, {journey.project_id for journey in journeys})
        return journeys

    @staticmethod
    def resolve_journey(root: Any, info: Any, project_id: str, key: str) -> Journey | None:
        project = project_for(info, project_id)
        if project is None:
            return None
        return journey_get(org_id=org_id_of(info), project_id=project.pk, key=key)


def invalid_definition(what: str, exc: DefinitionError) -> CodedGraphQLError:
    """The coded error of an invalid journey or funnel definition, every problem listed."""
    return CodedGraphQLError(
        JourneyErrorCode.INVALID_DEFINITION,
        f"The {what} definition is invalid: " + "; ".join(exc.errors),
        problems=exc.errors,
    )
