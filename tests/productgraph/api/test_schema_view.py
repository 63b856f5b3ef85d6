"""The OpenAPI document and its docs page (productgraph/api/schema_view.py)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("ask", "status", "code"),
    [
        ({"QUERY_STRING": "format=xml"}, 404, "not_found"),
        ({"HTTP_ACCEPT": "text/html"}, 406, "invalid_request"),
    ],
)
def test_the_schemas_errors_are_json_in_the_envelope(client, db, ask, status, code):
    response = client.get("/api/schema/", **ask)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def test_the_schema_is_yaml_by_default_and_json_on_request(client, db):
    assert client.get("/api/schema/")["Content-Type"].startswith("application/vnd.oai.openapi")
    assert client.get("/api/schema/?format=json").json()["openapi"].startswith("3.")


def test_the_api_docs_ui_is_served(client, db):
    page = client.get("/api/docs/")
    assert page.status_code == 200 and b"swagger" in page.content.lower()
