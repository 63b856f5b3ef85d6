"""GraphQL types of sessions: `Session` (with its events in order and its journeys)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

import graphene
from graphene import relay

from graphql_api.events.selectors import session_event_pages
from graphql_api.events.types import EventConnection
from graphql_api.journeys.selectors import session_journeys_by_session
from graphql_api.journeys.types import SessionJourneyType
from graphql_api.orgs.types import (
    ProjectType,
    expect_projects,
    project_for,
    project_load,
    project_page,
)
from graphql_api.sessions.selectors import SessionFilter, session_get_scoped, session_page
from ingestion.models import Event
from productgraph.graphql.context import loaders_of, org_id_of, principal_of
from productgraph.graphql.pagination import (
    DATETIME,
    INT,
    OPTIONAL_INT,
    Page,
    connection,
    decode_cursor,
    page_arguments,
    page_size,
)
from productgraph.graphql.scalars import utc
from sessions.models import Session
from sessions.selectors import session_get

SESSIONS_CURSOR = "sessions"
SESSION_EVENTS_CURSOR = "session-events"


def _session_key(session: Session) -> tuple[int, str]:
    return (session.project_id, session.session_id)


def _event_position(event: Any) -> tuple[datetime, int | None, int]:
    # `Any`: the catalog columns are added to Event at import time, unseen by mypy.
    return (event.timestamp, event.sequence, event.pk)


class SessionType(graphene.ObjectType):
    """A session as analytics.md defines it, recomputed from its events."""

    class Meta:
        name = "Session"
        interfaces = (relay.Node,)

    session_id = graphene.String(required=True, description="`session.id` on the wire.")
    project = graphene.Field(ProjectType, required=True)
    started_at = graphene.DateTime(required=True)
    last_event_at = graphene.DateTime(required=True)
    ended_at = graphene.DateTime(description="Null while the session is active.")
    is_active = graphene.Boolean(required=True)
    duration_ms = graphene.BigInt(required=True)
    event_count = graphene.Int(required=True)
    page_view_count = graphene.Int(required=True)
    unique_page_count = graphene.Int(required=True)
    error_count = graphene.Int(required=True)
    entry_page = graphene.String()
    exit_page = graphene.String()
    referrer = graphene.String()
    user_id = graphene.String()
    anonymous_id = graphene.String()
    user_agent = graphene.String()
    browser = graphene.String()
    os = graphene.String()
    device_type = graphene.String()
    events = graphene.Field(
        graphene.NonNull(EventConnection),
        **page_arguments(),
        description="The session's events in replay order: timestamp, sequence (nulls "
        "last), arrival.",
    )
    journeys = graphene.List(
        graphene.NonNull(SessionJourneyType),
        required=True,
        description="Where the session stands in each journey it entered.",
    )

    @classmethod
    def is_type_of(cls, root: Any, info: Any) -> bool:
        return isinstance(root, Session)

    @classmethod
    def get_node(cls, info: Any, id: str) -> Session | None:
        if not id.isdigit():
            return None
        return session_get_scoped(
            org_id=org_id_of(info), session_pk=int(id), project_ids=principal_of(info).project_ids
        )

    @staticmethod
    def resolve_project(root: Session, info: Any) -> Any:
        return project_load(info, root.project_id)

    @staticmethod
    def resolve_events(
        root: Session, info: Any, first: int | None = None, after: str | None = None
    ) -> Page[Event]:
        size = page_size(first)
        position = decode_cursor(after, SESSION_EVENTS_CURSOR, (DATETIME, OPTIONAL_INT, INT))
        loader = loaders_of(info).get(
            session_event_pages, default=list, org_id=org_id_of(info), first=size, after=position
        )
        rows = loader.load(_session_key(root)) or []
        return Page.of(rows, first=size, kind=SESSION_EVENTS_CURSOR, key=_event_position)

    @staticmethod
    def resolve_journeys(root: Session, info: Any) -> list[Any]:
        loader = loaders_of(info).get(
            session_journeys_by_session, default=list, org_id=org_id_of(info)
        )
        return loader.load(_session_key(root)) or []


SessionConnection = connection(
    SessionType, "Session", "A page of sessions, most recent activity first."
)


class SessionFilterInput(graphene.InputObjectType):
    """Criteria on sessions; every given one must hold."""

    class Meta:
        name = "SessionFilter"

    active = graphene.Boolean(description="true: still active; false: ended.")
    user_id = graphene.String()
    from_ = graphene.DateTime(name="from", description="Sessions active at or after this time.")
    to = graphene.DateTime(description="Sessions that started before this time.")
    has_errors = graphene.Boolean(description="true: at least one `error` event.")
    entry_page = graphene.String(description="Exact `page.path` the session entered on.")


def session_filter(value: Any) -> SessionFilter:
    """Turn a `SessionFilter` input into the selector's filter."""
    if value is None:
        return SessionFilter()
    return SessionFilter(
        active=value.active,
        user_id=value.user_id,
        since=utc(value.from_),
        until=utc(value.to),
        has_errors=value.has_errors,
        entry_page=value.entry_page,
    )


def expect_session_fields(info: Any, sessions: list[Session]) -> None:
    """Announce what a page of sessions will load: one query per field, not per row."""
    keys = [_session_key(session) for session in sessions]
    loaders = loaders_of(info)
    loaders.expect(session_event_pages, keys)
    loaders.expect(session_journeys_by_session, keys)
    expect_projects(info, {session.project_id for session in sessions})


class SessionQueries(graphene.ObjectType):
    """Root fields of sessions."""

    sessions = graphene.Field(
        graphene.NonNull(SessionConnection),
        project_id=graphene.String(required=True, description="The project's public id."),
        filter=graphene.Argument(SessionFilterInput),
        **page_arguments(),
        description="A project's sessions by last activity (newest first), by cursor.",
    )
    session = graphene.Field(
        SessionType,
        project_id=graphene.String(required=True),
        session_id=graphene.String(required=True),
        description="One session by its `session.id`; null when it does not exist.",
    )

    @staticmethod
    def resolve_sessions(
        root: Any,
        info: Any,
        project_id: str,
        filter: Any = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Page[Session]:
        criteria = session_filter(filter)
        page = project_page(
            info,
            project_id,
            first=first,
            after=after,
            kind=SESSIONS_CURSOR,
            fetch=partial(session_page, criteria=criteria),
            key=lambda s: (s.last_event_at, s.pk),
        )
        expect_session_fields(info, [session for _, session in page.edges])
        return page

    @staticmethod
    def resolve_session(root: Any, info: Any, project_id: str, session_id: str) -> Any:
        project = project_for(info, project_id)
        if project is None:
            return None
        return session_get(org_id=org_id_of(info), project_id=project.pk, session_id=session_id)
