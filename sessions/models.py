"""Product sessions: one row per (project, session.id), recomputed from events."""

from __future__ import annotations

from django.db import models

from orgs.models import Project, TenantModel
from sessions.useragent import MAX_NAME_LENGTH


class Session(TenantModel):
    """A session as analytics.md defines it. Every value is derived from the events."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    session_id = models.TextField()
    started_at = models.DateTimeField()
    last_event_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    is_active = models.GeneratedField(
        expression=models.Q(ended_at__isnull=True),  # type: ignore[arg-type]
        output_field=models.BooleanField(),
        db_persist=True,
    )
    duration_ms = models.BigIntegerField()
    event_count = models.PositiveIntegerField()
    page_view_count = models.PositiveIntegerField()
    unique_page_count = models.PositiveIntegerField()
    error_count = models.PositiveIntegerField()
    entry_page = models.TextField(null=True, blank=True)  # noqa: DJ001 - NULL: no page seen
    exit_page = models.TextField(null=True, blank=True)  # noqa: DJ001
    referrer = models.TextField(null=True, blank=True)  # noqa: DJ001
    user_id = models.TextField(null=True, blank=True)  # noqa: DJ001
    anonymous_id = models.TextField(null=True, blank=True)  # noqa: DJ001
    user_agent = models.TextField(null=True, blank=True)  # noqa: DJ001
    browser = models.CharField(max_length=MAX_NAME_LENGTH, null=True, blank=True)  # noqa: DJ001
    os = models.CharField(max_length=MAX_NAME_LENGTH, null=True, blank=True)  # noqa: DJ001
    device_type = models.CharField(max_length=20, null=True, blank=True)  # noqa: DJ001
    aggregated_at = models.DateTimeField(
        help_text="The latest received_at among the events folded in; the sweep refolds a "
        "session whose events were received after it."
    )

    class Meta:
        ordering = ["-last_event_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "session_id"], name="session_unique_per_project"
            )
        ]
        indexes = [
            models.Index(fields=["project", "-last_event_at"], name="session_recent"),
            models.Index(fields=["project", "user_id"], name="session_user"),
            models.Index(
                fields=["project", "last_event_at"],
                name="session_active",
                condition=models.Q(ended_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.session_id
