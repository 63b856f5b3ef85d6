"""How the OpenAPI document describes key authentication: either header (api.md)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension

_DESCRIPTION = "An ingest (pk_...) or secret (sk_...) key of the project; the key decides it."


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """`X-PG-API-Key: <key>` or `Authorization: Bearer <key>`: two alternatives, not a pair."""

    target_class = "orgs.authentication.ApiKeyAuthentication"
    name = ["ApiKeyHeader", "BearerKey"]

    def get_security_requirement(self, auto_schema):
        return [{name: []} for name in self.name]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "X-PG-API-Key", "description": _DESCRIPTION},
            {"type": "http", "scheme": "bearer", "description": _DESCRIPTION},
        ]


class IngestKeyAuthenticationScheme(ApiKeyAuthenticationScheme):
    """The doors' key: either header, `?api_key=`, or HTTP Basic with the key as the user
    (api.md, "Keys without headers"); a key in the body cannot be an OpenAPI scheme and is
    described with each body instead."""

    target_class = "orgs.authentication.IngestKeyAuthentication"
    name = ["ApiKeyHeader", "BearerKey", "ApiKeyQuery", "BasicKey"]

    def get_security_definition(self, auto_schema):
        ingest_only = "An ingest key (pk_...) of the project; never a secret key."
        return [
            *super().get_security_definition(auto_schema),
            {"type": "apiKey", "in": "query", "name": "api_key", "description": ingest_only},
            {
                "type": "http",
                "scheme": "basic",
                "description": "The key as the user, any password (Segment's write key).",
            },
        ]
