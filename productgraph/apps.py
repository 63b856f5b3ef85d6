from django.apps import AppConfig


class ProductgraphConfig(AppConfig):
    """The shared kernel as an app, so its management commands are found."""

    name = "productgraph"
    verbose_name = "ProductGraph"
