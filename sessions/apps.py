from django.apps import AppConfig


class SessionsConfig(AppConfig):
    """Product sessions. Labelled `product_sessions`: `sessions` is django.contrib's."""

    name = "sessions"
    label = "product_sessions"
    verbose_name = "Product sessions"

    def ready(self) -> None:
        """Connect the receivers of the hand-offs from the app below (receivers.py)."""
        from sessions import receivers  # noqa: F401
