"""The events table (monthly range partitions, under RLS) and its deduplication keys."""

from __future__ import annotations

from django.db import models

from ingestion.catalog import FIELDS, Field
from orgs.models import Project, TenantModel


class EventKey(TenantModel):
    """One row per stored (project, event_id): exact deduplication across partitions.

    The events table is partitioned by timestamp, and PostgreSQL requires unique constraints
    on a partitioned table to include the partition key; so the uniqueness of an event id
    lives here, where an `INSERT ... ON CONFLICT DO NOTHING` decides new versus duplicate.
    """

    # Only the unique (project, event_id) index and no foreign-key constraints, like the
    # events table: two more single-column indexes made key inserts 1.4-2.7x slower in the
    # bench, and the deferred FK checks cost ~8.5 us per event at commit.
    org = models.ForeignKey(
        "orgs.Organization",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_column="org_id",
        db_index=False,
        db_constraint=False,
    )
    project = models.ForeignKey(
        Project, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    event_id = models.TextField()
    timestamp = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "event_id"], name="event_unique_per_project")
        ]


def _model_field(field: Field) -> models.Field:
    null = not field.required
    if field.kind == "string":
        return models.TextField(null=null, db_column=field.column)
    if field.kind == "integer":
        return models.BigIntegerField(null=null, db_column=field.column)
    if field.kind == "number":
        return models.FloatField(null=null, db_column=field.column)
    if field.kind == "timestamp":
        return models.DateTimeField(null=null, db_column=field.column)
    return models.JSONField(null=null, db_column=field.column)


class Event(TenantModel):
    """A stored event. The table is created by SQL (partitioned), so Django does not manage it.

    Its catalog columns are added below from `ingestion.catalog.FIELDS`.
    """

    id = models.BigIntegerField(primary_key=True)
    project = models.ForeignKey(
        Project, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    attributes = models.JSONField(null=True)
    received_at = models.DateTimeField()
    user_agent = models.TextField(null=True)

    class Meta:
        managed = False
        db_table = "ingestion_event"
        ordering = ["timestamp", "id"]

    def __str__(self) -> str:
        return f"event {self.pk}"


for _field in FIELDS:
    Event.add_to_class(_field.column, _model_field(_field))
