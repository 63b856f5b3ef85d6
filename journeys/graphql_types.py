"""GraphQL types of journeys: `Journey` with stored metrics, session rows, and mutations.

Mutations validate through `journeys.services.journey_save` (which parses the definition):
a `DefinitionError` becomes the error `invalid_definition` with every problem listed in
`extensions.problems`. Logged-in editors and admins may mutate; viewers and secret keys may not.

`funnel` runs `journeys.funnels.FunnelQuery` (the ad hoc funnels of analytics.md) under the
edge's statement timeout.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import graphene
import psycopg.errors
from django.db import IntegrityError, transaction
from graphene import relay

from journeys.conditions import DefinitionError
from journeys.definitions import DEFAULT_TIMEOUT_MINUTES
from journeys.funnels import (
    UNITS,
    FunnelBucket,
    FunnelExclusion,
    FunnelQuery,
    FunnelResult,
    FunnelStep,
    FunnelTimeout,
)
from journeys.graphql_selectors import journey_get, journey_get_scoped, journey_list
from journeys.models import Journey, SessionJourney
from journeys.services import journey_save
from orgs.graphql_types import ProjectType, expect_projects, project_for, project_load
from orgs.models import Project
from productgraph.api.errors import ErrorCode
from productgraph.graphql.context import (
    analytic_timeout_ms,
    org_id_of,
    principal_of,
    require_write,
)
from productgraph.graphql.errors import CodedGraphQLError, GraphQLErrorCode
from productgraph.graphql.scalars import JSON, utc

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


# --- funnels -------------------------------------------------------------------------------

FunnelUnit = graphene.Enum(
    "FunnelUnit",
    [(unit.upper(), unit) for unit in UNITS],
    description="What a funnel counts: sessions, or users (user.id, else anonymous_id).",
)


class FunnelStepResult(graphene.ObjectType):
    """One step of a funnel bucket; percentages are 0 to 100, of step 1 / the previous step."""

    class Meta:
        name = "FunnelStep"

    step = graphene.Int(required=True, description="1-based.")
    count = graphene.Int(required=True)
    conversion_from_first = graphene.Float(description="% of step 1; null when it is 0.")
    conversion_from_previous = graphene.Float(description="% of the previous step.")
    drop_off = graphene.Int(description="Previous step's count minus this one's.")
    median_time_from_previous_ms = graphene.Float(
        description="Median time from the previous step on the counted chains."
    )

    @staticmethod
    def resolve_median_time_from_previous_ms(root: FunnelStep, info: Any) -> float | None:
        median = root.median_time_from_previous
        return None if median is None else median / timedelta(milliseconds=1)


class FunnelBucketResult(graphene.ObjectType):
    """The steps of one breakdown value, or of every unit."""

    class Meta:
        name = "FunnelBucket"

    value = JSON(description="The breakdown value on the counted chain's first event.")
    steps = graphene.List(graphene.NonNull(FunnelStepResult), required=True)

    @staticmethod
    def resolve_steps(root: FunnelBucket, info: Any) -> list[FunnelStep]:
        return root.steps


class FunnelResultType(graphene.ObjectType):
    """A funnel's numbers: overall, and per breakdown value (largest step 1 first)."""

    class Meta:
        name = "Funnel"

    overall = graphene.Field(FunnelBucketResult, required=True)
    buckets = graphene.List(
        graphene.NonNull(FunnelBucketResult),
        required=True,
        description="One per breakdown value; without a breakdown, just the overall bucket.",
    )
    breakdown = graphene.String()


class FunnelExclusionInput(graphene.InputObjectType):
    """Units hitting `match` strictly between steps `fromStep` and `toStep` stop there."""

    match = JSON(required=True, description="A condition list.")
    from_step = graphene.Int(required=True, description="1-based.")
    to_step = graphene.Int(required=True)


class FunnelQueries(graphene.ObjectType):
    """The ad hoc funnel."""

    funnel = graphene.Field(
        FunnelResultType,
        project_id=graphene.String(required=True),
        steps=graphene.List(
            graphene.NonNull(JSON), required=True, description="Each step: a condition list."
        ),
        from_=graphene.DateTime(name="from", required=True, description="First step from."),
        to=graphene.DateTime(required=True, description="First step before (exclusive)."),
        window_seconds=graphene.Int(
            description="Conversion window; default 30 min per session, 14 days per user."
        ),
        unit=graphene.Argument(FunnelUnit, default_value="session"),
        breakdown=graphene.String(description="An event key (wire name or attribute)."),
        exclusions=graphene.List(graphene.NonNull(FunnelExclusionInput)),
        description="Ad hoc funnel (analytics.md); null when the project does not exist.",
    )

    @staticmethod
    def resolve_funnel(
        root: Any,
        info: Any,
        project_id: str,
        steps: list[Any],
        from_: datetime,
        to: datetime,
        window_seconds: int | None = None,
        unit: Any = "session",
        breakdown: str | None = None,
        exclusions: list[Any] | None = None,
    ) -> FunnelResult | None:
        query = FunnelQuery(
            project_id=1,  # validated before the project is looked up, as eventCounts is
            steps=steps,
            date_from=utc(from_),  # type: ignore[arg-type]
            date_to=utc(to),  # type: ignore[arg-type]
            window=None if window_seconds is None else timedelta(seconds=window_seconds),
            unit=getattr(unit, "value", unit),
            breakdown=breakdown,
            exclusions=[
                FunnelExclusion(match=item.match, from_step=item.from_step, to_step=item.to_step)
                for item in exclusions or ()
            ],
        )
        try:
            query.validate()  # bad arguments answer alike for any project, missing or not
            project = project_for(info, project_id)
            if project is None:
                return None
            query = replace(query, project_id=project.pk)
            return query.run(timeout=timedelta(milliseconds=analytic_timeout_ms(info)))
        except FunnelTimeout as exc:
            raise CodedGraphQLError(GraphQLErrorCode.QUERY_TIMEOUT, "; ".join(exc.errors)) from None
        except DefinitionError as exc:
            named = DefinitionError([_graphql_names(problem) for problem in exc.errors])
            raise _invalid_definition("funnel", named) from None


# --- mutations -----------------------------------------------------------------------------


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
_ARGUMENT_NAMES = {
    "date_from": "from",
    "date_to": "to",
    "window": "windowSeconds",
    "from_step": "fromStep",
    "to_step": "toStep",
}
_ARGUMENT_NAME = re.compile(r"(?<![\w'])(" + "|".join(_ARGUMENT_NAMES) + r")(?![\w'])")


def _graphql_names(problem: str) -> str:
    """A funnel problem in the GraphQL arguments' names (`date_from` -> `from`, ...).

    A condition's problem is left as it is: its text quotes the caller's own values.
    """
    path = problem.partition(": ")[0]
    if path.startswith("steps") or ".match" in path:
        return problem
    return _ARGUMENT_NAME.sub(lambda found: _ARGUMENT_NAMES[found[1]], problem)


def _invalid_definition(what: str, exc: DefinitionError) -> CodedGraphQLError:
    return CodedGraphQLError(
        JourneyErrorCode.INVALID_DEFINITION,
        f"The {what} definition is invalid: " + "; ".join(exc.errors),
        problems=exc.errors,
    )


def _save(project: Project, journey: Journey | None, **fields: Any) -> Journey:
    """Save through the service in a savepoint; map its errors to coded GraphQL errors."""
    try:
        with transaction.atomic():
            return journey_save(project=project, journey=journey, **fields)
    except DefinitionError as exc:
        raise _invalid_definition("journey", exc) from None
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
        journey = _save(
            project,
            None,
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
        project, journey = _journey_to_write(info, input.project_id, input.key)
        changes = {
            name: value
            for name in (
                "name",
                "description",
                "entry",
                "steps",
                "exit",
                "timeout_minutes",
                "is_active",
            )
            if (value := getattr(input, name)) is not None
        }
        if "name" in changes:
            _checked_name(changes["name"])
        return {"journey": _resave(project, journey, **changes)}


def _resave(project: Project, journey: Journey, **changes: Any) -> Journey:
    """Save a journey's stored definition with `changes` applied (re-validated)."""
    fields = {
        "key": journey.key,
        "name": journey.name,
        "description": journey.description,
        "entry": journey.entry,
        "steps": journey.steps,
        "exit": journey.exit,
        "timeout_minutes": journey.timeout_minutes,
        "is_active": journey.is_active,
    }
    return _save(project, journey, **{**fields, **changes})


class DeactivateJourney(graphene.Mutation):
    """Stop matching sessions against a journey; its rows and metrics are kept."""

    class Arguments:
        project_id = graphene.String(required=True)
        key = graphene.String(required=True)

    Output = JourneyPayload

    @staticmethod
    def mutate(root: Any, info: Any, project_id: str, key: str) -> dict[str, Journey]:
        project, journey = _journey_to_write(info, project_id, key)
        return {"journey": _resave(project, journey, is_active=False)}


class JourneyMutations(graphene.ObjectType):
    """Root mutation fields of journeys."""

    create_journey = CreateJourney.Field()
    update_journey = UpdateJourney.Field()
    deactivate_journey = DeactivateJourney.Field()
