"""The schema as a whole (graphql_api/schema.py): the committed SDL is the code's, and no
resolver's query count grows with the rows it returns (no N+1).

Every query is measured on a small data set and again after the data set has grown; the
counts must be equal, and the tables behind nested fields must be read once per request.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from graphql import print_schema

from graphql_api.schema import schema
from journeys.services import journey_create, journeys_refresh_project
from productgraph.tenancy.context import org_context
from tests.graphql_api.helpers import (
    CHECKOUT_STEPS,
    as_editor,
    captured_sql,
    data,
    fold,
    hits,
    visit,
)

SESSION_FIELDS = """sessionId project { publicId }
  journeys { status journey { key project { publicId } } }
  events(first: 10) { nodes { eventId } pageInfo { endCursor } }"""

QUERIES = {
    "projects": "{ projects { id publicId } }",
    "project": '{ project(publicId: "proj_acme") { id publicId } }',
    "events": """{ events(projectId: "proj_acme", first: 500) {
        edges { cursor node { eventId } } pageInfo { hasNextPage } } }""",
    "sessions": f"""{{ sessions(projectId: "proj_acme", first: 500) {{
        nodes {{ {SESSION_FIELDS} }} }} }}""",
    "session": f"""{{ session(projectId: "proj_acme", sessionId: "s0") {{ {SESSION_FIELDS} }} }}""",
    "journeys": """{ journeys(projectId: "proj_acme") { key project { publicId }
        metrics { totalSessions steps { reached } byStatus { count } } } }""",
    "journey": """{ journey(projectId: "proj_acme", key: "j0") { key project { publicId }
        metrics { totalSessions } } }""",
    "eventCounts": """{ eventCounts(projectId: "proj_acme", from: "2026-01-15T00:00:00Z",
        to: "2026-01-16T00:00:00Z", interval: HOUR, groupBy: PAGE_PATH) {
        group points { count } } }""",
    "funnel": """{ funnel(projectId: "proj_acme", from: "2026-01-15T00:00:00Z",
        to: "2026-01-16T00:00:00Z", steps: [[{field: "page.path", op: "eq", value: "/cart"}],
        [{field: "page.path", op: "eq", value: "/pay"}]], breakdown: "page.path") {
        overall { steps { count } } buckets { value steps { count } } } }""",
}

# What each query reads, once per request however many rows come back.
READS = {
    "sessions": {"product_sessions_session": 1, "ingestion_event": 1, "journeys_sessionjourney": 1},
    "session": {"product_sessions_session": 1, "ingestion_event": 1, "journeys_sessionjourney": 1},
    "events": {"ingestion_event": 1},
    "journeys": {"journeys_journey": 1},
}


def grow(client, acme, start: int, stop: int) -> None:
    """Add sessions s<start>..s<stop-1> (3 events each) and journeys j<start>..j<stop-1>."""
    ids = [f"s{index}" for index in range(start, stop)]
    for index, session_id in enumerate(ids):
        visit(client, acme, session_id, "/home", "/cart", "/pay", hour=index % 12)
    fold(acme, *ids)
    with transaction.atomic(), org_context(acme.org.pk):
        for index in range(start, stop):
            journey_create(project=acme.project, key=f"j{index}", name="J", steps=CHECKOUT_STEPS)
        journeys_refresh_project(org_id=acme.org.pk, project_id=acme.project.pk)


def measured(client, acme, query: str) -> list[str]:
    data(client, query, key=acme.secret_key)  # warm up (e.g. the key's last_used_at write)
    return captured_sql(client, query, key=acme.secret_key)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_count_does_not_grow_with_rows(client, acme, name):
    query = QUERIES[name]
    grow(client, acme, 0, 2)
    small = measured(client, acme, query)
    grow(client, acme, 2, 7)
    large = measured(client, acme, query)
    assert len(large) == len(small), "\n".join(large)
    for table, count in READS.get(name, {}).items():
        assert hits(large, table) == count, (table, large)
    assert hits(large, "orgs_project") <= 1, "the project is looked up once and reused"


MUTATIONS = {
    "createJourney": """mutation { createJourney(input: {projectId: "proj_acme", key: "new",
        name: "New", steps: [{id: "a", match: [{field: "page.path", op: "eq", value: "/a"}]}]})
        { journey { key project { publicId } } } }""",
    "updateJourney": """mutation { updateJourney(input: {projectId: "proj_acme", key: "j0",
        name: "Renamed"}) { journey { key project { publicId } } } }""",
    "deactivateJourney": """mutation { deactivateJourney(projectId: "proj_acme", key: "j1")
        { journey { key project { publicId } } } }""",
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutations_read_the_project_and_journey_once_and_write_once(client, acme, name):
    grow(client, acme, 0, 2)
    editor = as_editor(client, acme)  # a secret key only reads
    data(client, "{ projects { id } }", **editor)  # warm up the login
    sqls = captured_sql(client, MUTATIONS[name], **editor)
    assert hits(sqls, "orgs_project") == 1
    writes = [sql for sql in sqls if sql.startswith(("INSERT", "UPDATE"))]
    assert len(writes) == 1 and "journeys_journey" in writes[0], sqls


SDL = Path(settings.BASE_DIR) / "graphql_api" / "schema.graphql"


def test_the_committed_schema_matches_the_code():
    printed = print_schema(schema.graphql_schema)
    assert SDL.read_text().rstrip("\n") == printed.rstrip("\n"), (
        "graphql_api/schema.graphql is stale: run `python manage.py graphql_schema` "
        "and commit the file"
    )
