"""Journeys in the admin: editable definitions, a funnel chart and the stored metrics."""

from __future__ import annotations

from django.contrib import admin
from django.db import transaction

from journeys.forms import JourneyForm
from journeys.models import DEFINITION_FIELDS, Journey
from journeys.services import (
    journey_create,
    journey_update,
    journeys_refresh_project,
)
from orgs.admin import TenantAdmin


@admin.register(Journey)
class JourneyAdmin(TenantAdmin):
    form = JourneyForm
    list_display = ["key", "name", "project", "is_active", "metrics_refreshed_at"]
    list_filter = ["is_active"]
    search_fields = ["key", "name"]
    readonly_fields = ["metrics_refreshed_at"]
    change_form_template = "admin/journeys/journey/change_form.html"
    actions = ["refresh"]

    def save_model(self, request, obj, form, change) -> None:
        """Through the services, the one write path of journeys (GraphQL's too): the form
        has validated the definition field by field, the service validates it again."""
        fields = {name: form.cleaned_data[name] for name in DEFINITION_FIELDS}
        fields["entry"] = fields["entry"] or []
        fields["exit"] = fields["exit"] or []
        if change:
            journey_update(journey=obj, **fields)
            return
        created = journey_create(project=obj.project, key=obj.key, **fields)
        obj.pk, obj.org_id = created.pk, created.org_id

    def get_readonly_fields(self, request, obj=None):
        # Fixed once created, as over GraphQL: the key is what events carry as
        # gen_ai.journey.id, and the session rows belong to the project.
        if obj is None:
            return self.readonly_fields
        return ["project", "key", *self.readonly_fields]

    @admin.action(description="Re-match sessions and refresh metrics", permissions=["change"])
    def refresh(self, request, queryset):
        projects = {(journey.org_id, journey.project_id) for journey in queryset}
        for org_id, project_id in projects:
            with transaction.atomic():
                journeys_refresh_project(org_id=org_id, project_id=project_id)
        self.message_user(request, f"Refreshed {len(projects)} project(s).")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        journey = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if journey is not None:
            extra_context["chart"] = funnel_chart(journey.metrics)
            extra_context["metrics"] = journey.metrics
        return super().change_view(request, object_id, form_url, extra_context)


def funnel_chart(metrics: dict) -> list[dict]:
    """Bars of the journey's funnel: entered, then each step's reached count, with widths."""
    total = metrics.get("total_sessions") or 0
    bars: list[dict] = [{"label": "Entered", "count": total}]
    bars += [{"label": step["name"], "count": step["reached"]} for step in metrics.get("steps", [])]
    for bar in bars:
        bar["percent"] = round(100 * bar["count"] / total, 1) if total else 0.0
        bar["width"] = max(bar["percent"], 0.5) if bar["count"] else 0
    return bars
