from django.apps import AppConfig


class JourneysConfig(AppConfig):
    """Journey definitions, conditions, matching and metrics."""

    name = "journeys"

    def ready(self) -> None:
        """Connect the receivers of the hand-offs from the app below (receivers.py)."""
        from journeys import receivers  # noqa: F401
