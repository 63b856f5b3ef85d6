"""Issue 15, cases 3 and 4: one GraphQL request cannot hold a worker past its budget.

Case 4: 120,000 `__typename` aliases (2.4 MB) answered 200 after 9.9 s of a worker's time,
because the cost rule skipped `__` fields. Case 3: five aliased funnels each ran to the
10 s statement timeout, so the request outlived gunicorn's 30 s worker timeout.
"""

from __future__ import annotations

import time

import pytest

from productgraph.graphql import limits
from tests.graphql_api.helpers import error_codes, gql

TYPENAMES = "{" + " ".join(f"a{i}: __typename" for i in range(120_000)) + "}"


def test_120000_typename_aliases_are_refused_before_validation(client, acme):
    assert len(TYPENAMES) > 2_200_000  # the attack sent 2.4 MB
    response = gql(client, TYPENAMES, key=acme.secret_key)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert error_codes(response.json()) == ["query_too_large"]


def test_typename_and_introspection_fields_count_toward_the_cost(client, acme):
    over = "{" + " ".join(f"a{i}: __typename" for i in range(limits.MAX_QUERY_FIELDS + 1)) + "}"
    assert len(over) < limits.MAX_QUERY_CHARACTERS
    response = gql(client, over, key=acme.secret_key)
    assert error_codes(response.json()) == ["query_too_complex"]
    at_limit = "{" + " ".join(f"a{i}: __typename" for i in range(limits.MAX_QUERY_FIELDS)) + "}"
    assert gql(client, at_limit, key=acme.secret_key).status_code == 200
    schema_aliases = "{" + " ".join(f"s{i}: __schema {{ __typename }}" for i in range(501)) + "}"
    assert error_codes(gql(client, schema_aliases, key=acme.secret_key).json()) == [
        "query_too_complex"
    ]


def test_one_response_name_repeated_is_refused_before_the_pairwise_rule(client, acme):
    # OverlappingFieldsCanBeMerged compares fields of one response name pairwise: 7,000
    # `__typename` took seconds there. The cost rule refuses the document before it runs.
    same_name = "{" + " __typename" * 7_000 + "}"
    started = time.monotonic()
    response = gql(client, same_name, key=acme.secret_key)
    assert error_codes(response.json()) == ["query_too_complex"]
    assert time.monotonic() - started < 5  # a generous bound: a regression takes minutes


def test_a_document_of_many_tokens_is_refused_before_validation(client, acme):
    tokens = "{" + " a" * limits.MAX_QUERY_TOKENS + "}"
    assert len(tokens) < limits.MAX_QUERY_CHARACTERS
    assert error_codes(gql(client, tokens, key=acme.secret_key).json()) == ["query_too_large"]


def test_graphiql_introspection_query_still_passes(client, acme):
    from graphql import get_introspection_query

    response = gql(client, get_introspection_query(descriptions=True), key=acme.secret_key)
    assert response.status_code == 200
    assert "errors" not in response.json()


FUNNEL = """
  f{n}: funnel(projectId: "proj_acme", from: "2026-01-01T00:00:00Z", to: "2026-12-31T00:00:00Z",
    steps: [[{{field: "page.path", op: "exists"}}], [{{field: "page.path", op: "exists"}}]])
    {{ overall {{ steps {{ count }} }} }}
"""


@pytest.fixture
def spent_budget(monkeypatch):
    """A request budget already spent when the first analytic field starts."""
    monkeypatch.setattr(limits, "ANALYTIC_BUDGET_MS", 0)


def test_analytic_fields_share_one_budget_and_answer_query_timeout_when_spent(
    client, acme, spent_budget
):
    query = "{" + "".join(FUNNEL.format(n=n) for n in range(5)) + "}"
    response = gql(client, query, key=acme.secret_key)
    assert response.status_code == 200
    body = response.json()
    assert error_codes(body) == ["query_timeout"] * 5
    assert "time budget" in body["errors"][0]["message"]


def test_slow_funnels_stop_at_the_request_budget_not_five_statement_timeouts(
    client, acme, monkeypatch
):
    # Case 3 scaled down 10x: each funnel's SQL sleeps past its statement timeout (1 s of a
    # 1.5 s budget): the first is cancelled at 1 s, the second at what is left (0.5 s), the
    # other three never run. Before the budget the five took 5 x 1 s.
    from analytics.stores.postgres import funnel as postgres_funnel

    monkeypatch.setattr(limits, "ANALYTIC_STATEMENT_TIMEOUT_MS", 1_000)
    monkeypatch.setattr(limits, "ANALYTIC_BUDGET_MS", 1_500)
    monkeypatch.setattr(postgres_funnel, "compile_funnel", lambda *_: ("SELECT pg_sleep(30)", []))
    query = "{" + "".join(FUNNEL.format(n=n) for n in range(5)) + "}"
    started = time.monotonic()
    body = gql(client, query, key=acme.secret_key).json()
    elapsed = time.monotonic() - started
    assert error_codes(body) == ["query_timeout"] * 5
    messages = [error["message"] for error in body["errors"]]
    assert sum("time budget" in message for message in messages) == 3, messages
    assert 1.4 < elapsed < 4.5  # 1.5 s of statements; five timeouts would be 5 s


def test_an_analytic_field_gets_what_is_left_of_the_budget(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(limits.time, "monotonic", lambda: clock[0])
    budget = limits.AnalyticBudget()
    assert budget.take() == limits.ANALYTIC_STATEMENT_TIMEOUT_MS  # 10 s of 20
    clock[0] += 10.0
    assert budget.take() == limits.ANALYTIC_STATEMENT_TIMEOUT_MS  # 10 s of 10
    clock[0] += 7.5
    assert budget.take() == 2_500
    clock[0] += 2.5
    with pytest.raises(limits.CodedGraphQLError) as refused:
        budget.take()
    assert refused.value.extensions == {"code": "query_timeout"}


def test_the_budget_ends_before_the_server_deadline_and_the_worker_timeout():
    from config import gunicorn
    from productgraph import server

    assert limits.ANALYTIC_BUDGET_MS / 1000 < server.RESPONSE_TIMEOUT_SECONDS < gunicorn.timeout
