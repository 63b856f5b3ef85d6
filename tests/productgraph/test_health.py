"""GET /health and GET /ready (productgraph/health.py; api.md)."""

from __future__ import annotations

import pytest

from tests.conftest import database_down


def test_health_answers_without_dependencies(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_checks_database_and_redis(client, db):
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


def test_ready_names_redis_when_it_is_down(client, db, settings, tmp_path):
    settings.REDIS_URL = f"unix://{tmp_path}/nothing.sock"
    response = client.get("/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["redis"].startswith("error: ")
    assert str(tmp_path) not in checks["redis"], "the driver's message stays in the log"


def test_ready_names_the_database_when_it_is_down(client, committed):
    with database_down():
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("error: ")
    assert response.json()["checks"]["redis"] == "ok"


@pytest.mark.parametrize("method", ["post", "options", "delete"])
@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_health_endpoints_refuse_other_methods_in_json(client, path, method):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_every_response_carries_a_request_id(client, db):
    generated = client.get("/ready")["X-Request-ID"]
    assert len(generated) >= 16
    assert client.get("/ready", HTTP_X_REQUEST_ID="trace-123")["X-Request-ID"] == "trace-123"


@pytest.mark.parametrize(
    "ask", [{"HTTP_ACCEPT": "text/plain"}, {"HTTP_ACCEPT": "application/xml"}, {"QUERY": "xml"}]
)
def test_health_answers_json_whatever_the_client_asks_for(client, db, ask):
    query = f"?format={ask['QUERY']}" if "QUERY" in ask else ""
    headers = {key: value for key, value in ask.items() if key != "QUERY"}
    for path in ("/health", "/ready"):
        response = client.get(path + query, **headers)
        assert response.status_code == 200, (path, response.content)
        assert response["Content-Type"].startswith("application/json")
