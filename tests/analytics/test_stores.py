"""Store selection: ANALYTICS_STORE names the store; an unknown name fails `manage.py check`."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from analytics.stores import analytics_store
from analytics.stores.postgres import PostgresStore


def test_the_default_store_is_postgres():
    assert isinstance(analytics_store(), PostgresStore)


@override_settings(ANALYTICS_STORE="clickhouse")
def test_an_unknown_store_is_refused_by_name_at_check_and_at_use():
    with pytest.raises(ImproperlyConfigured, match="ANALYTICS_STORE='clickhouse': use one of"):
        analytics_store()
    with pytest.raises(SystemCheckError, match=r"analytics\.E001"):
        call_command("check")
