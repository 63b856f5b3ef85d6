"""The kernel's error handlers (productgraph/api/handlers.py): JSON, in the envelope."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.urls("tests.probe_urls")


def test_unknown_path_is_a_json_404(client, db):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_unknown_host_is_a_json_400(client, db):
    response = client.get("/ready", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
