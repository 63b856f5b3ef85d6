"""Celery tasks of the orgs app."""

from __future__ import annotations

from celery import current_app, shared_task

from orgs.selectors import organization_list


@shared_task(name="orgs.fan_out")
def fan_out(task_name: str) -> int:
    """Beat entry point: send one `task_name(org_id)` per organization (tenancy.md, inv. 6)."""
    orgs = organization_list()
    for org in orgs:
        current_app.send_task(task_name, args=[org.pk])
    return len(orgs)
