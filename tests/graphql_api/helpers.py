"""Shared helpers of the GraphQL tests: requests, seeded events, sessions and journeys."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from journeys.models import Journey
from journeys.services import journey_create, journeys_refresh_project
from orgs.models import MAX_RETENTION_DAYS, Membership
from productgraph.tenancy.context import org_context
from sessions import services as session_services
from tests.ingestion.helpers import event, post, retention_set

CHECKOUT_STEPS = [
    {"id": "cart", "name": "Cart", "match": [{"field": "page.path", "op": "eq", "value": "/cart"}]},
    {"id": "pay", "name": "Pay", "match": [{"field": "page.path", "op": "eq", "value": "/pay"}]},
]


def gql(
    client,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    org: str | None = None,
    **headers: Any,
):
    """POST a GraphQL request like an API client (a key) or a browser (a session + org)."""
    if key is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    if org is not None:
        headers["HTTP_X_PG_ORG"] = org
    body = json.dumps({"query": query, "variables": variables or {}})
    return client.post("/graphql", data=body, content_type="application/json", **headers)


def data(client, query: str, variables: dict[str, Any] | None = None, **auth: Any) -> dict:
    """Run a query that must succeed; return its `data`."""
    response = gql(client, query, variables, **auth)
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body["errors"]
    return body["data"]


def error_codes(body: dict) -> list[str]:
    """The `extensions.code` of every error of a response body."""
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def captured_sql(client, query: str, variables: dict | None = None, **auth: Any) -> list[str]:
    """Run a query that must succeed; return the SQL it executed."""
    with CaptureQueriesContext(connection) as captured:
        data(client, query, variables, **auth)
    return [item["sql"] for item in captured.captured_queries]


def hits(sqls: list[str], table: str) -> int:
    """How many statements read or wrote `table`."""
    return sum(1 for sql in sqls if f'"{table}"' in sql or f" {table} " in sql)


def keep_the_calendar(tenant) -> None:
    """Let the tenant's org keep events as long as allowed: these tests query a fixed
    calendar (2026-01-15, a Thursday), which ingestion refuses beyond the retention."""
    retention_set(tenant.org.pk, MAX_RETENTION_DAYS)


def visit(client, tenant, session_id: str, *paths: str, hour: int = 10, **fields: Any) -> None:
    """Store one page.view per path, a minute apart, in one session."""
    keep_the_calendar(tenant)
    batch = []
    for minute, path in enumerate(paths):
        item = event(
            event_id=f"{session_id}-{hour}-{minute}",
            page__path=path,
            event__timestamp=f"2026-01-15T{hour:02}:{minute:02}:00Z",
            **fields,
        )
        item["session.id"] = session_id
        batch.append(item)
    response = post(client, tenant.ingest_key, {"events": batch})
    assert response.status_code == 202, response.content


def send(client, tenant, *events: dict[str, Any]) -> None:
    """Store these events (built with tests.ingestion.helpers.event)."""
    keep_the_calendar(tenant)
    response = post(client, tenant.ingest_key, {"events": list(events)})
    assert response.status_code == 202, response.content


def fold(tenant, *session_ids: str) -> None:
    """Aggregate these sessions of the tenant's project."""
    with transaction.atomic(), org_context(tenant.org.pk):
        session_services.sessions_fold(
            org_id=tenant.org.pk, project_id=tenant.project.pk, session_ids=list(session_ids)
        )


def add_journey(tenant, key: str = "checkout", *, refresh: bool = True) -> Journey:
    """Create a checkout journey (/cart then /pay); match sessions and refresh metrics."""
    with transaction.atomic(), org_context(tenant.org.pk):
        journey = journey_create(
            project=tenant.project, key=key, name="Checkout", steps=CHECKOUT_STEPS
        )
        if refresh:
            journeys_refresh_project(org_id=tenant.org.pk, project_id=tenant.project.pk)
            journey.refresh_from_db()
    return journey


def member(tenant, username: str, role: str):
    """Create a user with a membership of `role` in the tenant's org."""
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw")
    with transaction.atomic(), org_context(tenant.org.pk):
        Membership.objects.create(org=tenant.org, user=user, role=role)
    return user


def as_editor(client, tenant, username: str = "ed") -> dict[str, str]:
    """Log the client in as an editor of the tenant's org; return the auth for gql()/data().

    Mutations need an editor or admin: a secret key only reads (tenancy.md).
    """
    client.force_login(member(tenant, username, "editor"))
    return {"org": tenant.org.slug}


def seed_checkout(client, tenant, prefix: str = "") -> None:
    """Three sessions: one converts, one bounces, one never enters; folded, journey refreshed."""
    visit(client, tenant, f"{prefix}converts", "/home", "/cart", "/pay")
    visit(client, tenant, f"{prefix}bounces", "/cart", "/home", hour=11)
    visit(client, tenant, f"{prefix}never", "/home", hour=12)
    fold(tenant, f"{prefix}converts", f"{prefix}bounces", f"{prefix}never")
    add_journey(tenant)


def event_at(event_id: str, minute: int, session: str = "s1", **fields):
    """An event at 2026-01-15 10:<minute> in `session` (send it with send())."""
    item = event(event_id=event_id, event__timestamp=f"2026-01-15T10:{minute:02}:00Z", **fields)
    item["session.id"] = session
    return item


# Documents the auth and view tests send: any project list, and an editor-only mutation.
PROJECTS_QUERY = "{ projects { publicId } }"
CREATE_JOURNEY = """
mutation($p: String!) {
  createJourney(input: {projectId: $p, key: "signup", name: "Signup",
                        steps: [{id: "s", match: [{field: "page.path", op: "eq", value: "/s"}]}]}) {
    journey { key isActive }
  }
}"""
