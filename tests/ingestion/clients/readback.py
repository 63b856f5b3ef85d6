"""Read a project's stored events back the way an analyst does: GraphQL over HTTP."""

from __future__ import annotations

from typing import Any

import requests

from bench.server import Gunicorn
from ingestion.catalog import FIELDS


def _camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


# Every field of the GraphQL Event type.
EVENT_FIELDS = [
    *(_camel(field.column) for field in FIELDS),  # the Event type's fields: columns in camelCase
    "attributes",
    "userAgent",
    "receivedAt",
]
_QUERY = """
query ($project: String!, $after: String) {
  events(projectId: $project, first: 500, after: $after) {
    nodes { %s }
    pageInfo { hasNextPage endCursor }
  }
}
""" % " ".join(EVENT_FIELDS)  # noqa: UP031 (GraphQL braces)


def events_read(live: Gunicorn, *, secret_key: str, project: str) -> list[dict[str, Any]]:
    """Every stored event of `project`, in the API's order, each with every field."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        response = requests.post(
            f"http://127.0.0.1:{live.port}/graphql",
            json={"query": _QUERY, "variables": {"project": project, "after": after}},
            headers={"Authorization": f"Bearer {secret_key}"},
            timeout=30,
        )
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        page = body["data"]["events"]
        found.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def by_event_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The events keyed by their event_id."""
    return {event["eventId"]: event for event in events}
