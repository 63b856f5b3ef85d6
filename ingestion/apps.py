from django.apps import AppConfig


class IngestionConfig(AppConfig):
    """The event catalog, the doors, batch validation and the write path."""

    name = "ingestion"
