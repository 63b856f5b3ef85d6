from django.apps import AppConfig


class IngestionConfig(AppConfig):
    """The event catalog, batch validation and the write path (issue 3)."""

    name = "ingestion"
