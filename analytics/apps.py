"""The analytics tier as a Django app: no models; a system check of ANALYTICS_STORE."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from analytics.stores import analytics_store


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self) -> None:
        checks.register(check_store, checks.Tags.compatibility)


def check_store(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """`manage.py check` (and migrate, run by `make run`) refuses an unknown store."""
    try:
        analytics_store()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="analytics.E001")]
    return []
