"""Settings modules read as the processes that use them read them (a fresh interpreter)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from config.env import BASE_DIR

_FORMATTER = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.LOGGING['handlers']['console']['formatter'])"
)


@pytest.mark.parametrize(
    ("module", "log_format", "expected"),
    [
        ("config.settings.production", None, "json"),  # operations.md: JSON logs in production
        ("config.settings.production", "text", "text"),
        ("config.settings.local", None, "text"),
        ("config.settings.local", "json", "json"),
    ],
)
def test_production_logs_json_unless_told_otherwise(module, log_format, expected):
    env = {key: value for key, value in os.environ.items() if key != "LOG_FORMAT"}
    env.update(DJANGO_SETTINGS_MODULE=module, SECRET_KEY="test-only")
    if log_format is not None:
        env["LOG_FORMAT"] = log_format
    done = subprocess.run(  # noqa: S603 - a fixed argv: this interpreter and a constant
        [sys.executable, "-c", _FORMATTER],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == expected
