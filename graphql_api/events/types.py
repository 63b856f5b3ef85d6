"""GraphQL types of events: `Event`, the `events` stream and the `eventCounts` series."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import graphene

from analytics.errors import QueryError, QueryTimeout
from analytics.queries.event_counts import (
    DEFAULT_GROUPS,
    GROUPABLE_KEYS,
    EventCountsQuery,
    Interval,
    Series,
)
from analytics.stores import analytics_store
from graphql_api.events.selectors import EventFilter, event_page
from graphql_api.orgs.types import project_for, project_page
from ingestion.catalog import EVENT_TYPES
from ingestion.models import Event
from productgraph.graphql.context import analytic_timeout_ms
from productgraph.graphql.errors import CodedGraphQLError, GraphQLErrorCode
from productgraph.graphql.limits import query_timeout_error
from productgraph.graphql.pagination import (
    Page,
    connection,
    page_arguments,
)
from productgraph.graphql.scalars import JSON, utc

EVENTS_CURSOR = "events"


class EventType(graphene.ObjectType):
    """A stored event; fields are the wire keys of events.md in camelCase."""

    class Meta:
        name = "Event"

    event_id = graphene.String(required=True, description="`event_id`: unique per project.")
    session_id = graphene.String(required=True, description="`session.id`")
    event_type = graphene.String(required=True, description="`event.type`")
    event_name = graphene.String(description="`event.name`")
    timestamp = graphene.DateTime(required=True, description="`event.timestamp`")
    sequence = graphene.BigInt(description="`event.sequence`: order within a timestamp.")
    received_at = graphene.DateTime(required=True, description="When the server stored it.")
    user_id = graphene.String(description="`user.id`")
    anonymous_id = graphene.String(description="`user.anonymous_id`")
    page_path = graphene.String(description="`page.path`")
    page_title = graphene.String(description="`page.title`")
    page_url = graphene.String(description="`page.url`")
    page_referrer = graphene.String(description="`page.referrer`")
    ui_component_name = graphene.String(description="`ui.component.name`")
    ui_component_path = graphene.String(description="`ui.component.path`")
    ui_component_type = graphene.String(description="`ui.component.type`")
    ui_action = graphene.String(description="`ui.action`")
    ui_element = graphene.String(description="`ui.element`")
    ui_element_text = graphene.String(description="`ui.element.text`")
    ui_viewport = graphene.String(description="`ui.viewport`")
    ui_scroll_position = graphene.Float(description="`ui.scroll.position` (0 to 1)")
    ui_state_key = graphene.String(description="`ui.state.key`")
    ui_state_before = JSON(description="`ui.state.before`")
    ui_state_after = JSON(description="`ui.state.after`")
    ui_state_change_type = graphene.String(description="`ui.state.change_type`")
    journey_key = graphene.String(description="`gen_ai.journey.id`")
    journey_step_id = graphene.String(description="`gen_ai.journey.step.id`")
    journey_step_name = graphene.String(description="`gen_ai.journey.step.name`")
    conversion_status = graphene.String(description="`gen_ai.journey.conversion.status`")
    api_method = graphene.String(description="`api.method`")
    api_path = graphene.String(description="`api.path`")
    api_status_code = graphene.Int(description="`api.status_code`")
    api_duration_ms = graphene.BigInt(description="`api.duration_ms`")
    error_type = graphene.String(description="`error.type`")
    error_message = graphene.String(description="`error.message`")
    error_stack = graphene.String(description="`error.stack`")
    error_component = graphene.String(description="`error.component`")
    performance_lcp_ms = graphene.Float(description="`performance.lcp_ms`")
    performance_fid_ms = graphene.Float(description="`performance.fid_ms`")
    performance_inp_ms = graphene.Float(description="`performance.inp_ms`")
    performance_cls = graphene.Float(description="`performance.cls`")
    performance_ttfb_ms = graphene.Float(description="`performance.ttfb_ms`")
    snapshot_url = graphene.String(description="`snapshot.url`")
    snapshot_viewport = graphene.String(description="`snapshot.viewport`")
    duration_ms = graphene.BigInt(description="`duration_ms`")
    metadata = JSON(description="`metadata`")
    attributes = JSON(description="Every key outside the catalog, as sent.")
    user_agent = graphene.String(description="The User-Agent of the ingestion request.")


EventConnection = connection(
    EventType, "Event", "A page of events; ask for the next with `after: pageInfo.endCursor`."
)


class EventFilterInput(graphene.InputObjectType):
    """Criteria on events; every given one must hold."""

    class Meta:
        name = "EventFilter"

    types = graphene.List(
        graphene.NonNull(graphene.String), description="`event.type` values (any of them)."
    )
    session_id = graphene.String()
    user_id = graphene.String()
    from_ = graphene.DateTime(name="from", description="Events at or after this time.")
    to = graphene.DateTime(description="Events before this time.")
    page_path = graphene.String(description="Exact `page.path`.")
    journey_key = graphene.String(description="Events tagged with this `gen_ai.journey.id`.")


def _event_types(types: list[str] | None) -> tuple[str, ...]:
    unknown = sorted(set(types or ()) - set(EVENT_TYPES))
    if unknown:
        raise CodedGraphQLError(
            GraphQLErrorCode.INVALID_ARGUMENT,
            f"Unknown event type(s): {', '.join(unknown)}.",
            allowed=list(EVENT_TYPES),
        )
    return tuple(types or ())


def event_filter(value: Any) -> EventFilter:
    """Turn an `EventFilter` input into the selector's filter."""
    if value is None:
        return EventFilter()
    return EventFilter(
        types=_event_types(value.types),
        session_id=value.session_id,
        user_id=value.user_id,
        since=utc(value.from_),
        until=utc(value.to),
        page_path=value.page_path,
        journey_key=value.journey_key,
    )


def _event_position(event: Any) -> tuple[datetime, int]:
    # `Any`: the catalog columns are added to Event at import time, unseen by mypy.
    return (event.timestamp, event.pk)


EventGroupField = graphene.Enum(
    "EventGroupField",
    [(key.upper().replace(".", "_"), key) for key in GROUPABLE_KEYS],
    description="An event field to split a series by (its wire key in upper case).",
)
IntervalEnum = graphene.Enum.from_enum(
    Interval,
    name="Interval",  # type: ignore[call-arg]
    description="Bucket width of a series: UTC hours, days, or weeks starting on Monday.",
)


class EventCountPoint(graphene.ObjectType):
    """The number of events in one time bucket."""

    bucket = graphene.DateTime(required=True, description="Start of the bucket (UTC).")
    count = graphene.Int(required=True)


class EventCountSeries(graphene.ObjectType):
    """One group's counts over every bucket of the range (empty buckets count 0)."""

    group = graphene.String(description="The group's value; null: no groupBy, or absent.")
    total = graphene.Int(required=True)
    points = graphene.List(graphene.NonNull(EventCountPoint), required=True)


class EventQueries(graphene.ObjectType):
    """Root fields of events."""

    events = graphene.Field(
        graphene.NonNull(EventConnection),
        project_id=graphene.String(required=True, description="The project's public id."),
        filter=graphene.Argument(EventFilterInput),
        **page_arguments(),
        description="A project's events by (timestamp, id), paginated by cursor.",
    )
    event_counts = graphene.List(
        graphene.NonNull(EventCountSeries),
        required=True,
        project_id=graphene.String(required=True),
        from_=graphene.DateTime(name="from", required=True),
        to=graphene.DateTime(required=True, description="Exclusive."),
        interval=graphene.Argument(IntervalEnum, required=True),
        group_by=graphene.Argument(EventGroupField),
        types=graphene.List(graphene.NonNull(graphene.String)),
        max_groups=graphene.Int(
            default_value=DEFAULT_GROUPS, description="With groupBy: the top N (≤ 100)."
        ),
        description="Events per hour, day or week (UTC) for charts; one series per group.",
    )

    @staticmethod
    def resolve_events(
        root: Any,
        info: Any,
        project_id: str,
        filter: Any = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Page[Event]:
        criteria = event_filter(filter)
        return project_page(
            info,
            project_id,
            first=first,
            after=after,
            kind=EVENTS_CURSOR,
            fetch=partial(event_page, criteria=criteria),
            key=_event_position,
        )

    @staticmethod
    def resolve_event_counts(
        root: Any,
        info: Any,
        project_id: str,
        from_: datetime,
        to: datetime,
        interval: Any,
        group_by: Any = None,
        types: list[str] | None = None,
        max_groups: int | None = DEFAULT_GROUPS,
    ) -> list[Series]:
        query = EventCountsQuery(
            project_id=1,  # validated before the project is looked up, as funnel is
            since=utc(from_),  # type: ignore[arg-type]
            until=utc(to),  # type: ignore[arg-type]
            interval=Interval(getattr(interval, "value", interval)),
            group_by=getattr(group_by, "value", group_by),
            types=tuple(types or ()),
            max_groups=DEFAULT_GROUPS if max_groups is None else max_groups,  # null: default
        )
        try:
            query.validate()  # bad arguments answer alike for any project, missing or not
            project = project_for(info, project_id)
            if project is None:
                return []
            milliseconds = analytic_timeout_ms(info)
            return analytics_store().event_counts(
                replace(query, project_id=project.pk),
                timeout=timedelta(milliseconds=milliseconds),
            )
        except QueryTimeout:
            raise query_timeout_error(milliseconds) from None
        except QueryError as exc:
            raise CodedGraphQLError(GraphQLErrorCode.INVALID_ARGUMENT, f"{exc}.") from None
