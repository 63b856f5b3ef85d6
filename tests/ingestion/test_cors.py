"""CORS for the doors (ingestion/cors.py): the contract's headers, the project's origins."""

from __future__ import annotations

import pytest
from django.db import transaction

from orgs.models import Project
from productgraph.tenancy.context import org_context
from tests.ingestion.helpers import event, post


class TestCors:
    def test_preflight_is_204_with_the_contract_headers(self, client, db):
        response = client.options(
            "/v1/events",
            HTTP_ORIGIN="https://app.example.com",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, x-pg-api-key",
        )
        assert response.status_code == 204
        assert response["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert response["Access-Control-Allow-Credentials"] == "true"
        assert response["Access-Control-Allow-Methods"] == "POST, OPTIONS"
        assert response["Access-Control-Allow-Headers"] == (
            "Content-Type, Content-Encoding, X-PG-API-Key, Authorization"
        )
        assert response["Access-Control-Max-Age"] == "86400"
        assert "Origin" in response["Vary"] or "origin" in response["Vary"]
        assert response.content == b"" and "Content-Type" not in response

    def test_an_options_that_is_no_preflight_is_204_with_the_methods(self, client, acme):
        response = client.options("/v1/events", HTTP_X_PG_API_KEY=acme.ingest_key)
        assert response.status_code == 204
        assert response["Allow"] == "POST, OPTIONS"
        assert response.content == b""

    def test_post_reflects_an_allowed_origin(self, client, acme):
        response = post(
            client, acme.ingest_key, {"events": [event()]}, HTTP_ORIGIN="https://a.example"
        )
        assert response["Access-Control-Allow-Origin"] == "https://a.example"
        assert response["Access-Control-Allow-Credentials"] == "true"

    def test_a_browser_may_read_retry_after_and_the_request_id(self, client, acme):
        response = post(
            client, acme.ingest_key, {"events": [event()]}, HTTP_ORIGIN="https://a.example"
        )
        exposed = {
            name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")
        }
        assert exposed == {"retry-after", "x-request-id"}

    def test_project_origin_list_is_enforced(self, client, acme):
        with transaction.atomic(), org_context(acme.org.pk):
            Project.objects.filter(pk=acme.project.pk).update(
                allowed_origins=["https://shop.acme.test"]
            )
        allowed = post(
            client, acme.ingest_key, {"events": [event()]}, HTTP_ORIGIN="https://shop.acme.test"
        )
        other = post(
            client,
            acme.ingest_key,
            {"events": [event(event_id="2")]},
            HTTP_ORIGIN="https://evil.test",
        )
        assert allowed["Access-Control-Allow-Origin"] == "https://shop.acme.test"
        assert "Access-Control-Allow-Origin" not in other
        assert "origin" in other["Vary"].lower()  # a cache must not reuse it for shop.acme

    def test_no_cors_on_other_paths(self, client, db):
        response = client.get("/ready", HTTP_ORIGIN="https://a.example")
        assert "Access-Control-Allow-Origin" not in response

    @pytest.mark.parametrize(
        "origin", ["https://a.example\r\nX-Evil: 1", "javascript:alert(1)//x y"]
    )
    def test_malformed_origin_is_not_reflected(self, client, acme, origin):
        response = post(client, acme.ingest_key, {"events": [event()]}, HTTP_ORIGIN=origin)
        assert "Access-Control-Allow-Origin" not in response
        assert "origin" in response["Vary"].lower()
