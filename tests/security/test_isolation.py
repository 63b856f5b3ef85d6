"""acme never sees globex's rows nor writes into them: the isolation tests, door by door.

Every door is tried with one tenant's credentials against the other's rows and names, on the
two tenants of tests/conftest.py (`acme`, `globex`): REST (/v1/events, and a probe view of
what a key's request sees), OTLP, the Segment door, GraphQL (every query and mutation with
globex's project, globex's global node ids, cursors copied from globex's pages or crafted at
its rows, globex's names under acme's project, nested fields), the analytics store, the
admin, the tasks, the commands. An answer for a globex object must equal the answer for one
that does not exist.

The attacks on the admin's switcher are in test_admin.py and test_attack_staff.py, hostile
keys and headers in test_edges.py, the RLS machinery itself in tests/productgraph/tenancy/.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from graphql_relay import to_global_id

from analytics.queries.event_counts import EventCountsQuery, Interval
from analytics.queries.funnel import FunnelQuery
from analytics.stores import analytics_store
from ingestion.models import Event
from journeys.models import Journey
from orgs import keys, services
from orgs.authentication import authenticate_key
from orgs.models import ApiKey, Project
from productgraph.tenancy.context import org_context
from sessions import services as session_services
from sessions import tasks as session_tasks
from sessions.models import Session
from tests.conftest import Tenant, run_json
from tests.graphql_api.helpers import (
    add_journey,
    data,
    error_codes,
    fold,
    gql,
    member,
    seed_checkout,
    visit,
)
from tests.ingestion.helpers import (
    RECENT,
    counts,
    days_ago,
    event,
    ndjson,
    post,
    seed_old_and_new,
    stored,
)
from tests.ingestion.otlp import helpers as otlp
from tests.ingestion.segment import helpers as segment
from tests.journeys import helpers as journeys
from tests.orgs.helpers import TENANT_LISTS, switch
from tests.sessions.helpers import fold as fold_session
from tests.sessions.helpers import seed_events, seed_session, sessions_of

# --- REST ------------------------------------------------------------------------------------


def test_acme_key_cannot_write_into_globex_even_naming_its_project(client, acme, globex):
    payload = {
        "events": [event(project_id="proj_globex"), event(event_id="x", org__id=globex.org.pk)]
    }
    response = post(client, acme.ingest_key, payload)
    body = response.json()
    assert body["rejected"] == 1
    assert body["errors"] == [
        {
            "index": 0,
            "field": "project_id",
            "code": "invalid",
            "message": "does not match the API key",
        }
    ]
    assert stored(globex.org.pk) == []
    [row] = stored(acme.org.pk)
    assert row.org_id == acme.org.pk and row.attributes is None, "org.id is ignored"


@pytest.mark.urls("tests.probe_urls")
def test_an_acme_key_never_sees_globex(client, acme, globex):
    response = client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.secret_key)
    assert response.json()["visible_projects"] == ["proj_acme"]
    assert response.json()["org_id"] == acme.org.pk


# --- OTLP ------------------------------------------------------------------------------------


def test_globex_key_cannot_write_into_acme(client, acme, globex):
    export = otlp.logs_export(
        otlp.log_record(otlp.page_view(project_id="proj_acme")), otlp.log_record(otlp.page_view())
    )
    response = otlp.send(client, "/v1/logs", export, key=globex.ingest_key)
    partial = otlp.answer(response).partial_success
    assert partial.rejected_log_records == 1
    assert "log record 0: project_id does not match the API key" in partial.error_message
    assert stored(acme.org.pk) == []
    [row] = stored(globex.org.pk)
    assert row.project_id == globex.project.pk


# --- the Segment door ------------------------------------------------------------------------


def test_globex_key_never_writes_into_acme(client, acme, globex):
    msg = segment.message(properties={"project_id": "proj_acme"})
    response = segment.send(client, "/v1/batch", segment.batch(msg), key=globex.ingest_key)
    assert response.status_code == 200, response.content
    assert stored(acme.org.pk) == []
    [row] = stored(globex.org.pk)
    assert row.project_id == globex.project.pk
    # The same messageId in acme is acme's own event, not a duplicate of globex's.
    response = segment.send(client, "/v1/batch", segment.batch(msg), key=acme.ingest_key)
    assert response.json()["duplicates"] == 0
    assert [row.project_id for row in stored(acme.org.pk)] == [acme.project.pk]


def test_globex_write_key_with_acme_basic_user_is_a_400_and_nothing_stored(client, acme, globex):
    payload = segment.batch(segment.message(), writeKey=globex.ingest_key)
    response = segment.send(client, "/v1/batch", payload, key=acme.ingest_key)
    segment.assert_error(response, 400, "conflicting_api_keys")
    assert stored(acme.org.pk) == [] and stored(globex.org.pk) == []


# --- GraphQL ---------------------------------------------------------------------------------

QUERIES = {
    "project": "query($p: String!) { project(publicId: $p) { publicId } }",
    "events": """query($p: String!) { events(projectId: $p) {
        nodes { eventId } pageInfo { hasNextPage endCursor } } }""",
    "sessions": """query($p: String!) { sessions(projectId: $p) {
        nodes { sessionId } pageInfo { hasNextPage endCursor } } }""",
    "session": """query($p: String!) { session(projectId: $p, sessionId: "converts") {
        sessionId events { nodes { eventId } } journeys { status } } }""",
    "journeys": "query($p: String!) { journeys(projectId: $p) { key } }",
    "journey": 'query($p: String!) { journey(projectId: $p, key: "checkout") { key } }',
    "funnel": """query($p: String!) { funnel(projectId: $p, from: "2026-01-01T00:00:00Z",
        to: "2026-02-01T00:00:00Z", steps: [[{field: "page.path", op: "eq", value: "/cart"}],
        [{field: "page.path", op: "eq", value: "/pay"}]]) { overall { steps { count } } } }""",
    "eventCounts": """query($p: String!) { eventCounts(projectId: $p, interval: DAY,
        from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { total } }""",
}
MUTATIONS = {
    "createJourney": """mutation($p: String!) { createJourney(input: {projectId: $p,
        key: "new", name: "New", steps: [{id: "a", match: [{field: "page.path", op: "eq",
        value: "/a"}]}]}) { journey { key } } }""",
    "updateJourney": """mutation($p: String!) { updateJourney(input: {projectId: $p,
        key: "checkout", name: "Renamed"}) { journey { key } } }""",
    "deactivateJourney": """mutation($p: String!) { deactivateJourney(projectId: $p,
        key: "checkout") { journey { key } } }""",
}
EVENTS = """query($p: String!, $a: String) { events(projectId: $p, first: 2, after: $a) {
    nodes { sessionId eventId } pageInfo { endCursor } } }"""
SESSIONS = """query($p: String!, $a: String) { sessions(projectId: $p, first: 1, after: $a) {
    nodes { sessionId } pageInfo { endCursor } } }"""
SESSION_EVENTS = """query($p: String!, $s: String!, $a: String) { session(projectId: $p,
    sessionId: $s) { events(first: 1, after: $a) { nodes { eventId } pageInfo { endCursor } } } }"""


@dataclass(frozen=True)
class Seeded:
    """The two tenants with their GraphQL data, and the names only one of them has."""

    acme: Tenant
    globex: Tenant
    acme_only: frozenset[str]
    globex_only: frozenset[str]


def _names(tenant: Tenant) -> set[str]:
    """Every event id and session id of the tenant."""
    with transaction.atomic(), org_context(tenant.org.pk):
        rows = Event.objects.filter(org_id=tenant.org.pk).values_list("event_id", "session_id")
        return {name for row in rows for name in row}


@pytest.fixture
def seeded(client, acme, globex) -> Seeded:
    """The same shapes in both tenants (seed_checkout: sessions `converts`, `bounces`,
    `never` and a `checkout` journey; globex's sessions prefixed `g-`), and in globex only: a
    session named like acme's (`converts`, to catch a lookup by name alone), a user `g-u` and
    a journey `g-only`."""
    seed_checkout(client, acme)
    seed_checkout(client, globex, prefix="g-")
    visit(client, globex, "converts", "/cart", "/pay", hour=9, user__id="g-u")
    fold(globex, "converts")
    add_journey(globex, "g-only")
    acme_names, globex_names = _names(acme), _names(globex)
    return Seeded(
        acme=acme,
        globex=globex,
        acme_only=frozenset(acme_names - globex_names),
        globex_only=frozenset(globex_names - acme_names),
    )


@pytest.fixture(params=["key", "member"])
def acme_auth(request, client, seeded):
    """acme's credentials: its secret key, or a logged-in admin of acme."""
    if request.param == "key":
        return {"key": seeded.acme.secret_key}
    client.force_login(member(seeded.acme, "ann", "admin"))
    return {"org": "acme"}


def _tokens(value) -> set[str]:
    """Every string in an answer (ids, names, cursors)."""
    return set(json.dumps(value).replace('"', " ").split())


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_query_answers_for_globex_as_for_a_missing_project(client, acme_auth, name):
    query = QUERIES[name]
    foreign = gql(client, query, {"p": "proj_globex"}, **acme_auth)
    missing = gql(client, query, {"p": "proj_missing"}, **acme_auth)
    assert foreign.status_code == missing.status_code == 200
    assert foreign.json() == missing.json()
    own = data(client, query, {"p": "proj_acme"}, **acme_auth)
    assert own != foreign.json()["data"], "the query must show something for acme's project"


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_every_mutation_fails_for_globex_as_for_a_missing_project(client, acme_auth, seeded, name):
    mutation = MUTATIONS[name]
    foreign = gql(client, mutation, {"p": "proj_globex"}, **acme_auth).json()
    missing = gql(client, mutation, {"p": "proj_missing"}, **acme_auth).json()
    assert foreign == missing
    # A secret key only reads: refused before any project is looked up.
    assert error_codes(foreign) == ["forbidden" if "key" in acme_auth else "not_found"]
    with transaction.atomic(), org_context(seeded.globex.org.pk):
        journeys_ = list(Journey.objects.order_by("key").values_list("key", "name", "is_active"))
    assert journeys_ == [("checkout", "Checkout", True), ("g-only", "Checkout", True)], (
        "globex's journeys are untouched"
    )


def _globex_ids(globex) -> dict[str, str]:
    with transaction.atomic(), org_context(globex.org.pk):
        session = Session.objects.get(session_id="g-converts")
        journey = Journey.objects.get(key="checkout")
    return {
        "Project": to_global_id("Project", globex.project.pk),
        "Session": to_global_id("Session", session.pk),
        "Journey": to_global_id("Journey", journey.pk),
    }


def test_global_node_ids_of_globex_resolve_to_null(client, acme_auth, seeded):
    query = "query($id: ID!) { node(id: $id) { id __typename } }"
    for type_name, global_id in _globex_ids(seeded.globex).items():
        assert data(client, query, {"id": global_id}, **acme_auth) == {"node": None}, type_name
    for garbage in ["", "bm9wZQ", to_global_id("Event", 1), to_global_id("Query", 1)]:
        assert data(client, query, {"id": garbage}, **acme_auth) == {"node": None}


def test_global_node_ids_of_acme_resolve(client, acme_auth):
    ids = data(client, "{ projects { id } }", **acme_auth)["projects"]
    query = "query($id: ID!) { node(id: $id) { ... on Project { publicId } } }"
    node = data(client, query, {"id": ids[0]["id"]}, **acme_auth)
    assert node == {"node": {"publicId": "proj_acme"}}


def test_cursors_copied_from_globex_pages_only_position_within_acme(client, seeded, acme_auth):
    globex = seeded.globex
    copied = [
        (EVENTS, data(client, EVENTS, {"p": "proj_globex"}, key=globex.secret_key)["events"]),
        (SESSIONS, data(client, SESSIONS, {"p": "proj_globex"}, key=globex.secret_key)["sessions"]),
        (
            SESSION_EVENTS,
            data(
                client,
                SESSION_EVENTS,
                {"p": "proj_globex", "s": "g-converts"},
                key=globex.secret_key,
            )["session"]["events"],
        ),
    ]
    for query, page in copied:
        cursor = page["pageInfo"]["endCursor"]
        assert cursor
        assert _tokens(page) & seeded.globex_only, "globex sees its own rows"
        variables = {"p": "proj_acme", "s": "converts", "a": cursor}
        answer = gql(client, query, variables, **acme_auth).json()
        assert "errors" not in answer, answer
        assert not _tokens(answer["data"]) & seeded.globex_only, (query, answer)
        assert _tokens(answer["data"]) & seeded.acme_only, ("acme's own rows follow", answer)


def _cursor(*parts) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def test_cursors_crafted_at_globex_rows_only_position_within_acme(client, seeded, acme_auth):
    with transaction.atomic(), org_context(seeded.globex.org.pk):
        rows = list(Event.objects.order_by("timestamp", "id").values_list("timestamp", "id"))
    for timestamp, row_id in rows[:2]:
        for after in (
            _cursor("events", timestamp.isoformat(), row_id - 1),
            _cursor("sessions", timestamp.isoformat(), row_id + 1),
            _cursor("session-events", timestamp.isoformat(), None, row_id - 1),
        ):
            for query in (EVENTS, SESSIONS, SESSION_EVENTS):
                variables = {"p": "proj_acme", "s": "converts", "a": after}
                body = gql(client, query, variables, **acme_auth).json()
                assert set(error_codes(body)) <= {"invalid_cursor"}, body
                assert not _tokens(body.get("data")) & seeded.globex_only, body


@pytest.mark.parametrize(
    ("query", "empty"),
    [
        (
            '{ session(projectId: "proj_acme", sessionId: "g-converts") { sessionId } }',
            {"session": None},
        ),
        ('{ journey(projectId: "proj_acme", key: "g-only") { key } }', {"journey": None}),
        (
            '{ sessions(projectId: "proj_acme", filter: {userId: "g-u"}) { nodes { sessionId } } }',
            {"sessions": {"nodes": []}},
        ),
        (
            '{ events(projectId: "proj_acme", filter: {userId: "g-u"}) { nodes { eventId } } }',
            {"events": {"nodes": []}},
        ),
        (
            '{ events(projectId: "proj_acme", filter: {sessionId: "g-converts"}) {'
            " nodes { eventId } } }",
            {"events": {"nodes": []}},
        ),
    ],
)
def test_globex_names_under_acme_project_find_nothing(client, seeded, acme_auth, query, empty):
    assert data(client, query, **acme_auth) == empty
    as_globex = data(
        client, query.replace("proj_acme", "proj_globex"), key=seeded.globex.secret_key
    )
    assert as_globex != empty, "the name is globex's"


def test_nested_fields_show_only_acme_rows(client, seeded):
    query = """{ session(projectId: "proj_acme", sessionId: "converts") {
        project { publicId } events { nodes { pagePath } } journeys { journey { project {
        publicId } } } } }"""
    session = data(client, query, key=seeded.acme.secret_key)["session"]
    assert session["project"] == {"publicId": "proj_acme"}
    assert [n["pagePath"] for n in session["events"]["nodes"]] == ["/home", "/cart", "/pay"]
    assert session["journeys"] == [{"journey": {"project": {"publicId": "proj_acme"}}}]


def test_a_secret_key_sees_only_its_own_project_of_the_org(client, acme):
    with transaction.atomic():
        other, _ = services.project_create(org=acme.org, name="Other", public_id="proj_other")
        ingest = services.api_key_issue(project=other, kind="ingest", name="t").key
    seed_checkout(client, replace(acme, project=other, ingest_key=ingest), prefix="o-")
    query = """query($p: String!) { project(publicId: $p) { publicId }
        sessions(projectId: $p) { nodes { sessionId } } }"""
    assert data(client, query, {"p": "proj_other"}, key=acme.secret_key) == {
        "project": None,
        "sessions": {"nodes": []},
    }
    client.force_login(member(acme, "ann", "viewer"))
    seen = data(client, query, {"p": "proj_other"}, org="acme")
    assert seen["project"] == {"publicId": "proj_other"} and len(seen["sessions"]["nodes"]) == 3


# --- the analytics store ---------------------------------------------------------------------


def _analytics_in(tenant: Tenant, project_id: int) -> tuple[int, list[int]]:
    """Event counts and funnel step counts of `project_id`, asked in `tenant`'s org context."""
    since, until = RECENT - timedelta(hours=1), RECENT + timedelta(hours=1)
    counts_query = EventCountsQuery(
        project_id=project_id, since=since, until=until, interval=Interval.DAY
    )
    page_view = [{"field": "event.type", "op": "eq", "value": "page.view"}]
    error = [{"field": "event.type", "op": "eq", "value": "error"}]
    funnel = FunnelQuery(
        project_id=project_id, steps=[page_view, error], date_from=since, date_to=until
    )
    store = analytics_store()
    with transaction.atomic(), org_context(tenant.org.pk):
        series = store.event_counts(counts_query, timeout=timedelta(seconds=10))
        result = store.funnel(funnel, timeout=timedelta(seconds=10))
    return sum(one.total for one in series), [step.count for step in result.overall.steps]


def test_the_analytics_store_answers_in_the_callers_org_only(client, acme, globex):
    seed_events(client, globex)
    assert _analytics_in(globex, globex.project.pk) == (3, [1, 1])
    # acme's context naming globex's project: the store scopes by the context's org.
    assert _analytics_in(acme, globex.project.pk) == (0, [0, 0])
    assert _analytics_in(acme, acme.project.pk) == (0, [0, 0])


# --- the admin -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", TENANT_LISTS[:2])
def test_staff_acting_as_acme_sees_acme_and_nothing_of_globex(staff_client, acme, globex, url):
    switch(staff_client, acme.org.pk)
    body = staff_client.get(url).content.decode()
    assert "proj_acme" in body
    assert "proj_globex" not in body
    assert keys.prefix_of(globex.ingest_key) not in body


def test_globex_object_urls_behave_as_missing_for_acme(staff_client, acme, globex):
    switch(staff_client, acme.org.pk)
    with org_context(globex.org.pk):
        globex_key = ApiKey.objects.filter(org_id=globex.org.pk).first()
    for url in [
        f"/admin/orgs/project/{globex.project.pk}/change/",
        f"/admin/orgs/project/{globex.project.pk}/history/",
        f"/admin/orgs/apikey/{globex_key.pk}/change/",
    ]:
        response = staff_client.get(url, follow=True)
        body = response.content.decode()
        assert "proj_globex" not in body, url
        assert globex_key.prefix not in body, url
        assert "exist" in body or response.status_code == 404, url


def test_search_cannot_reach_globex(staff_client, acme, globex):
    switch(staff_client, acme.org.pk)
    body = staff_client.get("/admin/orgs/project/?q=globex").content.decode()
    assert "proj_globex" not in body


# --- the tasks -------------------------------------------------------------------------------


def test_tasks_for_acme_never_read_or_write_globex(client, acme, globex):
    seed_events(client, acme)
    seed_events(client, globex)
    with pytest.raises(Project.DoesNotExist), transaction.atomic(), org_context(acme.org.pk):
        # A forged task naming globex's project inside acme's context finds no project.
        session_services.sessions_fold(
            org_id=acme.org.pk, project_id=globex.project.pk, session_ids=["sess_001"]
        )
    assert session_tasks.sweep_org.run(acme.org.pk, "2000-01-01T00:00:00+00:00") == 1
    assert set(sessions_of(acme)) == {"sess_001"}
    assert sessions_of(globex) == {}


def test_closing_acme_idle_sessions_leaves_globex_open(client, acme, globex):
    for tenant in (acme, globex):
        seed_events(client, tenant)  # an hour ago
        fold_session(tenant, "sess_001", now=RECENT + timedelta(minutes=2))  # folded while live
    assert session_tasks.close_idle_org.run(acme.org.pk) == 1
    assert not sessions_of(acme)["sess_001"].is_active
    assert sessions_of(globex)["sess_001"].is_active


def test_journeys_of_acme_never_see_globex_sessions(client, acme, globex):
    journeys.make_journey(acme)
    journeys.visit(client, globex, "g", "/cart", "/pay")
    call_command("aggregate_sessions")
    call_command("refresh_journeys")
    assert journeys.rows(acme) == {} and journeys.rows(globex) == {}


# --- the commands ----------------------------------------------------------------------------


def test_import_events_into_acme_leaves_globex_empty(acme, globex, tmp_path, capsys):
    path = ndjson(tmp_path / "e.ndjson", event(event_id="e1"), event(event_id="e2"))
    run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    assert counts(acme) == (2, 2)
    assert counts(globex) == (0, 0)


def test_purge_events_for_acme_only_leaves_globex_old_events(acme, globex, tmp_path, capsys):
    seed_old_and_new(acme, tmp_path, capsys)
    seed_old_and_new(globex, tmp_path, capsys)
    out = run_json(capsys, "purge_events", "--org", "acme", "--older-than", "30")
    assert [(r["org"], r["days"], r["events"], r["keys"]) for r in out["orgs"]] == [
        ("acme", 30, 2, 2)
    ]
    assert (out["events"], out["keys"]) == (2, 2)
    assert counts(acme) == (1, 1)
    assert counts(globex) == (3, 3)


def test_a_partition_made_ahead_isolates_orgs(acme, globex, tmp_path, capsys):
    ahead = run_json(capsys, "ensure_partitions", "--months-back", "0", "--months-ahead", "0")
    path = ndjson(tmp_path / "e.ndjson", event(event_id="now", event__timestamp=days_ago(0)))
    run_json(capsys, "import_events", "--project", "proj_acme", str(path))
    partition = ahead["partitions"][0]
    with transaction.atomic(), org_context(globex.org.pk), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partition}")  # noqa: S608 -- a name we made
        assert cursor.fetchone()[0] == 0
    with transaction.atomic(), org_context(acme.org.pk), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partition}")  # noqa: S608 -- a name we made
        assert cursor.fetchone()[0] == 1


def test_aggregate_sessions_rebuilds_only_the_chosen_org(client, acme, globex, capsys):
    seed_session(client, acme, "acme-s")
    seed_session(client, globex, "globex-s")
    call_command("aggregate_sessions", "--org", "acme", "--json")
    assert json.loads(capsys.readouterr().out) == {"projects": {"proj_acme": 1}, "sessions": 1}
    assert set(sessions_of(acme)) == {"acme-s"}
    assert sessions_of(globex) == {}
    call_command("aggregate_sessions", "--json")
    assert json.loads(capsys.readouterr().out)["sessions"] == 2


def test_acme_cannot_take_globex_public_id_through_a_command(acme, globex, capsys):
    with pytest.raises(CommandError, match="already taken"):
        call_command(
            "create_project", "--org", "acme", "--name", "Steal", "--public-id", "proj_globex"
        )
    with org_context(globex.org.pk):
        assert Project.objects.get(public_id="proj_globex").org_id == globex.org.pk


def test_key_issued_for_globex_project_belongs_to_globex(acme, globex, capsys):
    issued = run_json(capsys, "create_api_key", "--project", "proj_globex", "--kind", "secret")
    principal = authenticate_key(issued["key"])
    assert principal.org_id == globex.org.pk and principal.project_id == globex.project.pk
