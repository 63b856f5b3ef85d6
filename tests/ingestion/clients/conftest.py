"""Real clients we did not write, against the real server (tests/live.py), read back
through GraphQL over HTTP with the project's secret key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.server import Gunicorn
from tests.live import live_gunicorn


@pytest.fixture(scope="module")
def live(django_db_setup, tmp_path_factory) -> Iterator[Gunicorn]:
    """gunicorn with the production settings and worker on the test database."""
    with live_gunicorn(tmp_path_factory.mktemp("gunicorn")) as gunicorn:
        yield gunicorn
