"""The Celery app: Redis broker, JSON only, late acks (tasks are safe to retry)."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("productgraph")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # The time limits are settings (CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT).
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    # A task a dead worker held is redelivered after this (kombu's Redis default: 1 hour);
    # above every task's hard time limit, so a running task is never delivered twice.
    broker_transport_options={"visibility_timeout": 900},
    timezone="UTC",
)
app.autodiscover_tasks()

# The worker's pool processes (where tasks run) yield the CPU to the web server on a shared
# machine: a fold can wait a second, a 202 should not. PostgreSQL's backends keep theirs.
WORKER_NICENESS = 10


@worker_process_init.connect
def _yield_cpu_to_the_web_server(**_kwargs: object) -> None:
    os.nice(WORKER_NICENESS)
