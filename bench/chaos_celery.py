"""`celery -A bench.chaos_celery worker`: ProductGraph's Celery app, messages redelivered fast.

The same app, tasks and settings as `celery -A productgraph` (productgraph/celery.py), with
one change for `make chaos`: the Redis transport's visibility timeout. A task a SIGKILLed
worker had taken stays in Redis' `unacked` hash until that timeout passes (900 s in
productgraph/celery.py). `BENCH_VISIBILITY_TIMEOUT` seconds (default 10) and a restore
scan every second let the chaos run see the redelivery within a minute. In production a
shorter timeout has a cost: a task still running (or waiting for its countdown) past it is
delivered again.
"""

from __future__ import annotations

import os

from productgraph.celery import app

VISIBILITY_TIMEOUT = float(os.environ.get("BENCH_VISIBILITY_TIMEOUT", "10"))

app.conf.broker_transport_options = {
    "visibility_timeout": VISIBILITY_TIMEOUT,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}

__all__ = ["app"]
