"""The batch's per-event validation as a DRF serializer (issue: "validation by a DRF
serializer that reports every problem per event").

DRF's field-by-field validation was measured at about 110 ms per 1,000 events — more than
the COPY of the same batch — so the serializer delegates each event to the compiled
validator, `ingestion.validation.validate_event` (one msgspec conversion into a struct
generated from the catalog, ~6 us per event), whose errors are the documented ones. One
serializer per batch, not per event: an instance costs about as much as validating an event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework import serializers

from ingestion.validation import EventError, Project, ValidEvent, validate_event


class EventBatchSerializer(serializers.BaseSerializer):
    """Validate a batch's events: the valid ones, and every problem of every other one.

    Context: `project` (a `validation.Project`), `received_at` and `not_before` (the start
    of the org's retention). A batch is never invalid
    as a whole here (the request-level checks come before): `to_internal_value` returns
    `(valid events, errors in index order)`.
    """

    def to_internal_value(self, data: list[Any]) -> tuple[list[ValidEvent], list[EventError]]:
        project: Project = self.context["project"]
        received_at: datetime = self.context["received_at"]
        not_before: datetime = self.context["not_before"]
        valid: list[ValidEvent] = []
        errors: list[EventError] = []
        for index, raw in enumerate(data):
            event, problems = validate_event(
                index, raw, project=project, received_at=received_at, not_before=not_before
            )
            if event is not None:
                valid.append(event)
            errors.extend(problems)
        return valid, errors
