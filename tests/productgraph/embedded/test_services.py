"""The embedded PostgreSQL is tuned like a small server, from the machine's memory."""

from __future__ import annotations

import pytest
from django.db import connection

from config.settings.base import ENV
from productgraph.embedded.services import postgres_settings

GB = 1024**3


@pytest.mark.parametrize(
    ("memory", "shared", "cache"),
    [
        (24 * GB, "4096MB", "12288MB"),
        (2 * GB, "512MB", "1024MB"),
        (256 * 1024**2, "128MB", "256MB"),
    ],
)
def test_shared_buffers_are_a_quarter_of_memory_within_bounds(memory, shared, cache):
    settings = postgres_settings(memory)
    assert settings["shared_buffers"] == shared
    assert settings["effective_cache_size"] == cache
    assert settings["max_wal_size"] == "4GB"


def test_the_running_server_has_the_reloadable_settings(db):
    if ENV.database_url:
        pytest.skip("a given server (DATABASE_URL) is tuned by its operator")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_wal_size'), current_setting('checkpoint_timeout')"
        )
        assert cursor.fetchone() == ("4GB", "15min")
