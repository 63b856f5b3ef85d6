from django.apps import AppConfig


class OrgsConfig(AppConfig):
    """Organizations, projects, API keys and memberships."""

    name = "orgs"
    verbose_name = "Organizations"

    def ready(self) -> None:
        from orgs import openapi  # noqa: F401 - registers the OpenAPI description of key auth
