"""ProductGraph: entry points and the shared kernel."""

from productgraph.celery import app as celery_app

__all__ = ["celery_app"]
