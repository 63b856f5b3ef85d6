"""`celery -A bench.chaos_celery worker` (`make chaos`): ProductGraph's Celery app with a short
visibility timeout, so that a SIGKILLed worker's tasks are redelivered within a minute (900 s
in productgraph/celery.py). In production a shorter timeout redelivers a task still running."""

import os

from productgraph.celery import app

app.conf.broker_transport_options = {
    "visibility_timeout": float(os.environ.get("BENCH_VISIBILITY_TIMEOUT", "10")),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}

__all__ = ["app"]
