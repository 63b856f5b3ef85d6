"""The doors in the OpenAPI document (ingestion/openapi.py, otlp/openapi.py,
segment/openapi.py): key places, bodies, statuses."""

from __future__ import annotations


def test_the_openapi_document_names_every_key_place_text_plain_and_every_status(client, db):
    document = client.get("/api/schema/?format=json").json()
    operation = document["paths"]["/v1/events"]["post"]
    assert operation["security"] == [
        {"ApiKeyHeader": []},
        {"BearerKey": []},
        {"ApiKeyQuery": []},
        {"BasicKey": []},
    ]
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"]["name"] == "X-PG-API-Key"
    assert (schemes["BearerKey"]["type"], schemes["BearerKey"]["scheme"]) == ("http", "bearer")
    assert (schemes["ApiKeyQuery"]["in"], schemes["ApiKeyQuery"]["name"]) == ("query", "api_key")
    assert (schemes["BasicKey"]["type"], schemes["BasicKey"]["scheme"]) == ("http", "basic")
    batch = operation["requestBody"]["content"]["application/json"]["schema"]
    assert "api_key" in batch["properties"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "text/plain"}
    assert {"202", "400", "401", "403", "405", "413", "415", "429", "503"} <= set(
        operation["responses"]
    )


def test_the_openapi_document_lists_every_door_path_with_its_body(client):
    document = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = document["paths"]
    for path in ("/v1/events", "/v1/logs", "/v1/traces", "/v1/batch", "/v1/b",
                 *(f"/v1/{call}" for call in ("track", "page", "screen", "identify", "alias",
                                              "group", "t", "p", "i", "a", "g"))):  # fmt: skip
        assert "post" in paths[path], path
    batch = paths["/v1/batch"]["post"]["requestBody"]
    assert batch["required"] and set(batch["content"]) == {"application/json", "text/plain"}
    assert "batch" in batch["content"]["application/json"]["schema"]["properties"]
    track = paths["/v1/track"]["post"]["requestBody"]["content"]["text/plain"]["schema"]
    assert "messageId" in track["properties"]
    assert {"200", "400", "401", "413", "415", "429"} <= set(
        paths["/v1/track"]["post"]["responses"]
    )
    logs = paths["/v1/logs"]["post"]["requestBody"]["content"]
    assert set(logs) == {"application/x-protobuf", "application/json"}
    assert logs["application/x-protobuf"]["schema"]["format"] == "binary"
