"""Django admin for internal staff: every tenant page is scoped to the switched-to org.

Row-Level Security does the scoping (the admin runs as the runtime role inside the org
context the switcher set); the querysets also filter by that org explicitly.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import IntegrityError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse

from orgs import services
from orgs.admin_org import admin_org_id, audit, audit_time
from orgs.models import ApiKey, Membership, Organization, Project


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "retention_days", "created_at"]
    search_fields = ["slug", "name"]
    fields = ["name", "slug", "retention_days"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting a tenant is an operation on every org's tables, not an admin click.
        return False


class TenantAdmin(admin.ModelAdmin):
    """Admin of a model with `org_id`: scoped to the org chosen in the switcher."""

    def get_queryset(self, request):
        org_id = admin_org_id(request)
        queryset = super().get_queryset(request)
        return queryset.filter(org_id=org_id) if org_id else queryset.none()

    def has_add_permission(self, request) -> bool:
        return bool(admin_org_id(request)) and super().has_add_permission(request)

    def changelist_view(self, request, extra_context=None):
        if not admin_org_id(request):
            messages.warning(request, "Choose an organization in the header to see its data.")
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.org_id = admin_org_id(request)
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "project":
            kwargs["queryset"] = Project.objects.filter(org_id=admin_org_id(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Project)
class ProjectAdmin(TenantAdmin):
    list_display = ["public_id", "name", "slug", "rate_limit_per_second", "created_at"]
    search_fields = ["public_id", "name", "slug"]
    fields = [
        "name",
        "slug",
        "public_id",
        "allowed_origins",
        "rate_limit_per_second",
        "session_timeout_minutes",
    ]

    def get_readonly_fields(self, request, obj=None):
        return ["public_id"] if obj else []

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A public id is unique across orgs, and RLS hides the other orgs' rows from the
        # form's uniqueness check: the INSERT is what finds it taken.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except IntegrityError:
            self.message_user(
                request,
                "That public id or slug is already taken; choose another.",
                level=messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    list_display = ["prefix", "name", "kind", "project", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["kind"]
    search_fields = ["prefix", "name"]
    actions = ["revoke_keys"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["project", "kind", "name"]
        return ["project", "kind", "name", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["project", "kind", "prefix", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # Keys are created by members of the org only (the service refuses anyone else,
        # superusers and holders of orgs.act_for_any_org included): see changeform_view.
        issued = services.api_key_issue(
            project=obj.project, kind=obj.kind, name=obj.name, created_by=request.user
        )
        request._issued_key = issued
        obj.pk = issued.api_key.pk

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except services.NotAMemberError as exc:
            audit.warning(
                "admin api key refused user=%s org=%s at=%s reason=not_a_member",
                request.user.get_username(),
                admin_org_id(request),
                audit_time(),
            )
            self.message_user(request, f"No key was created: {exc}.", level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def response_add(self, request, obj, post_url_continue=None):
        issued = request._issued_key
        return TemplateResponse(
            request,
            "admin/orgs/apikey/issued.html",
            {
                **self.admin_site.each_context(request),
                "key": issued.key,
                "api_key": issued.api_key,
                "title": "API key issued",
            },
        )

    def log_addition(self, request, obj, message):
        obj = request._issued_key.api_key
        return super().log_addition(request, obj, message)

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_keys(self, request, queryset):
        revoked = sum(services.api_key_revoke(api_key=key) for key in queryset)
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: a deleted key leaves no trace of its use


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    list_display = ["user", "role", "created_at"]
    list_filter = ["role"]
    fields = ["user", "role"]
    autocomplete_fields = ["user"]
