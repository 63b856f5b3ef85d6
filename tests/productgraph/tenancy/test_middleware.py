"""The tenancy middleware (productgraph/tenancy/middleware.py): the request transaction,
org scope, error mapping and persistent connections."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from orgs.models import Project
from productgraph.tenancy.context import org_context
from tests.conftest import database_down, make_tenant

pytestmark = pytest.mark.urls("tests.probe_urls")


@pytest.fixture
def tenants(committed):
    return make_tenant("acme"), make_tenant("globex")


def test_request_runs_in_the_key_org_and_sees_only_its_rows(client, tenants):
    acme, _globex = tenants
    response = client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.ingest_key)
    assert response.status_code == 200
    assert response.json()["org_id"] == acme.org.pk
    assert response.json()["visible_projects"] == ["proj_acme"]


def test_persistent_connection_does_not_carry_the_org_into_the_next_request(
    client, tenants, settings
):
    acme, _globex = tenants
    connection.settings_dict["CONN_MAX_AGE"] = 600
    try:
        client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.ingest_key)
        first = connection.connection
        response = client.get("/probe/anonymous")
        assert connection.connection is first, "the test must reuse one connection"
        assert response.json() == {"org_id": None, "projects": 0}
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = 0


def test_cross_org_insert_is_a_403_json_error_and_nothing_is_stored(client, tenants):
    acme, globex = tenants
    response = client.post(
        "/probe/cross-insert",
        {"org_id": globex.org.pk},
        content_type="application/json",
        HTTP_X_PG_API_KEY=acme.ingest_key,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    with transaction.atomic(), org_context(globex.org.pk):
        assert not Project.objects.filter(public_id="proj_cross").exists()


def test_exception_after_a_write_rolls_the_whole_request_back(tenants):
    from django.test import Client

    acme, _globex = tenants
    client = Client(raise_request_exception=False)
    response = client.post("/probe/write-then-fail", HTTP_X_PG_API_KEY=acme.ingest_key)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    with transaction.atomic(), org_context(acme.org.pk):
        assert not Project.objects.filter(public_id="proj_half").exists()


def test_database_down_is_503_with_retry_after(client, tenants):
    acme, _globex = tenants
    with database_down():
        response = client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.ingest_key)
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert response.json()["error"]["code"] == "unavailable"
