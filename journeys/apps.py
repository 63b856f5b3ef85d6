from django.apps import AppConfig


class JourneysConfig(AppConfig):
    """Journey definitions, matching and funnels (issue 5)."""

    name = "journeys"
