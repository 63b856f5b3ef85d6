"""Read-only admin of sessions, scoped to the org chosen in the switcher."""

from __future__ import annotations

from django.contrib import admin

from ingestion.selectors import session_event_rows
from orgs.admin import TenantAdmin
from sessions.models import Session


class HasErrorsFilter(admin.SimpleListFilter):
    title = "errors"
    parameter_name = "errors"

    def lookups(self, request, model_admin):
        return [("yes", "with errors"), ("no", "without errors")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(error_count__gt=0)
        if self.value() == "no":
            return queryset.filter(error_count=0)
        return queryset


@admin.register(Session)
class SessionAdmin(TenantAdmin):
    list_display = [
        "session_id",
        "project",
        "user_id",
        "started_at",
        "duration_ms",
        "event_count",
        "page_view_count",
        "error_count",
        "entry_page",
        "is_active",
    ]
    list_filter = ["is_active", HasErrorsFilter, "device_type", "started_at"]
    search_fields = ["session_id", "user_id", "anonymous_id", "entry_page"]
    date_hierarchy = "started_at"
    list_select_related = ["project"]
    show_full_result_count = False
    change_form_template = "admin/product_sessions/session/change_form.html"
    fields = _FIELDS = (
        "project",
        "session_id",
        "started_at",
        "last_event_at",
        "ended_at",
        "duration_ms",
        "event_count",
        "page_view_count",
        "unique_page_count",
        "error_count",
        "entry_page",
        "exit_page",
        "referrer",
        "user_id",
        "anonymous_id",
        "browser",
        "os",
        "device_type",
        "user_agent",
        "aggregated_at",
    )
    readonly_fields = _FIELDS

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        session = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if session is not None:
            extra_context["session_events"] = session_event_rows(
                org_id=session.org_id, project_id=session.project_id, session_id=session.session_id
            )
        return super().change_view(request, object_id, form_url, extra_context)
