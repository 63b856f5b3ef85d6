from django.apps import AppConfig


class OrgsConfig(AppConfig):
    """Organizations, projects, API keys and memberships."""

    name = "orgs"
    verbose_name = "Organizations"
