"""Journeys (per-project definitions) and the sessions matched against them."""

from __future__ import annotations

from django.db import models

from journeys.definitions import DEFAULT_TIMEOUT_MINUTES
from orgs.models import Project, TenantModel

# What a journey's definition is made of: changing any of them re-matches its sessions.
DEFINITION_FIELDS = (
    "name",
    "description",
    "entry",
    "steps",
    "exit",
    "timeout_minutes",
    "is_active",
)


class Journey(TenantModel):
    """A named journey of a project; its definition is validated by journeys.definitions."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    key = models.SlugField(max_length=255, help_text="the value of gen_ai.journey.id on the wire")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    entry = models.JSONField(default=list, blank=True)
    steps = models.JSONField(default=list)
    exit = models.JSONField(default=list, blank=True)
    timeout_minutes = models.PositiveIntegerField(default=DEFAULT_TIMEOUT_MINUTES)
    is_active = models.BooleanField(default=True)
    metrics = models.JSONField(default=dict, blank=True, editable=False)
    metrics_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped in the database by every update of the definition (journeys.services, the only
    # write path: GraphQL and the admin call it); a refresh that re-matched the project's
    # sessions records the version it read.
    # Unequal: beat's next refresh re-matches every session of the project. Counters, not
    # clocks: a save that commits while a refresh runs is never lost (journeys.md).
    definition_version = models.PositiveBigIntegerField(default=1, editable=False)
    matched_version = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["project_id", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "key"], name="journey_key_unique_per_project"
            )
        ]

    def __str__(self) -> str:
        return self.key


class SessionJourney(TenantModel):
    """Where one session stands in one journey (a session may be in several)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        CONVERTED = "converted"
        DROPPED = "dropped"
        BOUNCED = "bounced"
        ABANDONED = "abandoned"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="sessions")
    session_id = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices)
    entered_at = models.DateTimeField()
    last_step_id = models.CharField(max_length=255, blank=True)
    last_step_index = models.IntegerField(
        help_text="0-based index of the last step reached; -1: entry only"
    )
    converted_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-entered_at"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "session_id"], name="session_journey_unique")
        ]
        indexes = [models.Index(fields=["project", "session_id"], name="session_journey_session")]

    def __str__(self) -> str:
        return f"{self.session_id} in {self.journey_id}: {self.status}"
