"""Settings for the test suite (pytest-django)."""

import os

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL as _SERVER_URL
from productgraph.redis_urls import broker_url, with_db

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user fixtures

# Tests use their own Redis database, so they never touch a running `make run`'s queue.
REDIS_URL = with_db(_SERVER_URL, 15)
CELERY_BROKER_URL = broker_url(REDIS_URL)
# ...and their own keys and queue, so concurrent test runs never see each other's.
REDIS_KEY_PREFIX = f"pg-test-{os.getpid()}:"
CELERY_TASK_DEFAULT_QUEUE = f"test-{os.getpid()}"
