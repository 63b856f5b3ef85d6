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
