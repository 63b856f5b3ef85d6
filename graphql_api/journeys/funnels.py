"""GraphQL: `funnel` runs an `analytics.queries.funnel.FunnelQuery` (the ad hoc funnels of
the analytics contract) on the configured analytics store, under the edge's analytic
statement timeout."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import graphene

from analytics.errors import QueryError, QueryTimeout
from analytics.queries.funnel import (
    UNITS,
    FunnelBucket,
    FunnelExclusion,
    FunnelQuery,
    FunnelResult,
    FunnelStep,
)
from analytics.stores import analytics_store
from graphql_api.journeys.types import invalid_definition
from graphql_api.orgs.types import project_for
from journeys.conditions import DefinitionError
from productgraph.graphql.context import analytic_timeout_ms
from productgraph.graphql.errors import CodedGraphQLError, GraphQLErrorCode
from productgraph.graphql.scalars import JSON, utc

FunnelUnit = graphene.Enum(
    "FunnelUnit",
    [(unit.upper(), unit) for unit in UNITS],
    description="What a funnel counts: sessions, or users (user.id, else anonymous_id).",
)


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
            return analytics_store().funnel(
                replace(query, project_id=project.pk),
                timeout=timedelta(milliseconds=analytic_timeout_ms(info)),
            )
        except QueryTimeout as exc:
            raise CodedGraphQLError(
                GraphQLErrorCode.QUERY_TIMEOUT,
                f"the funnel took longer than {exc.timeout}; narrow the date range or steps",
            ) from None
        except QueryError as exc:
            named = DefinitionError([_graphql_names(problem) for problem in exc.errors])
            raise invalid_definition("funnel", named) from None


# --- mutations -----------------------------------------------------------------------------
