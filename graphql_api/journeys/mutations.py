"""GraphQL: creating, updating and deactivating journeys.

Mutations call `journeys.services` (`journey_create`, `journey_update`, `journey_deactivate`),
which validate the definition.
Logged-in editors and admins may mutate; viewers and secret keys may not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import graphene
import psycopg.errors
from django.db import IntegrityError, transaction

from graphql_api.journeys.selectors import journey_get
from graphql_api.journeys.types import (
    MAX_NAME_LENGTH,
    JourneyErrorCode,
    JourneyType,
    invalid_definition,
)
from graphql_api.orgs.types import project_for
from journeys.conditions import DefinitionError
from journeys.definitions import DEFAULT_TIMEOUT_MINUTES
from journeys.models import DEFINITION_FIELDS, Journey
from journeys.services import journey_create, journey_deactivate, journey_update
from orgs.models import Project
from productgraph.api.errors import ErrorCode
from productgraph.graphql.context import (
    org_id_of,
    require_write,
)
from productgraph.graphql.errors import CodedGraphQLError, GraphQLErrorCode
from productgraph.graphql.scalars import JSON


def _project_to_write(info: Any, project_id: str) -> Project:
    require_write(info)
    project = project_for(info, project_id)
    if project is None:
        raise CodedGraphQLError(ErrorCode.NOT_FOUND, "No such project.")
    return project


def _journey_to_write(info: Any, project_id: str, key: str) -> tuple[Project, Journey]:
    project = _project_to_write(info, project_id)
    journey = journey_get(org_id=org_id_of(info), project_id=project.pk, key=key)
    if journey is None:
        raise CodedGraphQLError(ErrorCode.NOT_FOUND, "No journey with that key in that project.")
    return project, journey


def _checked_name(name: str) -> str:
    if not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise CodedGraphQLError(
            GraphQLErrorCode.INVALID_ARGUMENT, f"name: 1 to {MAX_NAME_LENGTH} characters."
        )
    return name


# The funnel's problems name FunnelQuery's fields; a GraphQL caller sent these arguments.
def _write(service: Callable[..., Journey], **arguments: Any) -> Journey:
    """Call a journey service in a savepoint; map its errors to coded GraphQL errors."""
    try:
        with transaction.atomic():
            return service(**arguments)
    except DefinitionError as exc:
        raise invalid_definition("journey", exc) from None
    except IntegrityError as exc:
        if not isinstance(exc.__cause__, psycopg.errors.UniqueViolation):
            raise
        # Lost a race with another create of the same key (checked before saving).
        raise CodedGraphQLError(
            JourneyErrorCode.JOURNEY_EXISTS, "The project already has a journey with that key."
        ) from None


class CreateJourneyInput(graphene.InputObjectType):
    """A new journey; its definition is validated as analytics.md describes."""

    project_id = graphene.String(required=True)
    key = graphene.String(required=True, description="A slug; immutable once created.")
    name = graphene.String(required=True)
    description = graphene.String(default_value="")
    entry = JSON(description="Entry conditions; default: none (step 1 enters).")
    steps = JSON(required=True)
    exit = JSON(description="Exit conditions; default: none.")
    timeout_minutes = graphene.Int(default_value=DEFAULT_TIMEOUT_MINUTES)
    is_active = graphene.Boolean(default_value=True)


class UpdateJourneyInput(graphene.InputObjectType):
    """Changes to a journey, found by project and key; fields left out keep their value."""

    project_id = graphene.String(required=True)
    key = graphene.String(required=True)
    name = graphene.String()
    description = graphene.String()
    entry = JSON()
    steps = JSON()
    exit = JSON()
    timeout_minutes = graphene.Int()
    is_active = graphene.Boolean()


class JourneyPayload(graphene.ObjectType):
    """The journey a mutation saved."""

    journey = graphene.Field(JourneyType, required=True)


class CreateJourney(graphene.Mutation):
    """Create a journey (logged-in editors and admins)."""

    class Arguments:
        input = CreateJourneyInput(required=True)

    Output = JourneyPayload

    @staticmethod
    def mutate(root: Any, info: Any, input: Any) -> dict[str, Journey]:
        project = _project_to_write(info, input.project_id)
        if journey_get(org_id=org_id_of(info), project_id=project.pk, key=input.key):
            raise CodedGraphQLError(
                JourneyErrorCode.JOURNEY_EXISTS, "The project already has a journey with that key."
            )
        journey = _write(
            journey_create,
            project=project,
            key=input.key,
            name=_checked_name(input.name),
            description=input.description or "",
            entry=input.entry if input.entry is not None else [],
            steps=input.steps,
            exit=input.exit if input.exit is not None else [],
            # An explicit null means the default, as when the field is left out.
            timeout_minutes=(
                DEFAULT_TIMEOUT_MINUTES if input.timeout_minutes is None else input.timeout_minutes
            ),
            is_active=True if input.is_active is None else input.is_active,
        )
        return {"journey": journey}


class UpdateJourney(graphene.Mutation):
    """Change a journey's name, description, definition or activity (not its key)."""

    class Arguments:
        input = UpdateJourneyInput(required=True)

    Output = JourneyPayload

    @staticmethod
    def mutate(root: Any, info: Any, input: Any) -> dict[str, Journey]:
        _, journey = _journey_to_write(info, input.project_id, input.key)
        changes = {
            name: value for name in DEFINITION_FIELDS if (value := getattr(input, name)) is not None
        }
        if "name" in changes:
            _checked_name(changes["name"])
        return {"journey": _write(journey_update, journey=journey, **changes)}


class DeactivateJourney(graphene.Mutation):
    """Stop matching sessions against a journey; its rows and metrics are kept."""

    class Arguments:
        project_id = graphene.String(required=True)
        key = graphene.String(required=True)

    Output = JourneyPayload

    @staticmethod
    def mutate(root: Any, info: Any, project_id: str, key: str) -> dict[str, Journey]:
        _, journey = _journey_to_write(info, project_id, key)
        return {"journey": _write(journey_deactivate, journey=journey)}


class JourneyMutations(graphene.ObjectType):
    """Root mutation fields of journeys."""

    create_journey = CreateJourney.Field()
    update_journey = UpdateJourney.Field()
    deactivate_journey = DeactivateJourney.Field()
