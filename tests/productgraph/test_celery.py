"""The Celery app: every scheduled task exists, and the settings the brief requires."""

from __future__ import annotations

from django.conf import settings

from productgraph.celery import app


def test_every_beat_entry_names_a_registered_task_and_fans_out_to_one():
    app.loader.import_default_modules()
    registered = set(app.tasks)
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in registered, name
        if entry["task"] == "orgs.fan_out":
            assert entry["args"][0] in registered, name


def test_tasks_are_json_acked_late_and_rejected_on_worker_loss():
    conf = app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit and conf.task_soft_time_limit


def test_the_broker_redelivers_a_dead_workers_task_after_15_minutes():
    assert app.conf.broker_transport_options["visibility_timeout"] == 900
    assert app.conf.task_time_limit < 900
