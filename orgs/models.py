"""Organizations (the tenants), projects, API keys and memberships (tenancy.md)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# Events are kept this many days at most (100 years): `purge_events` computes its cut-off
# from it, and dates before year 1 do not exist.
MAX_RETENTION_DAYS = 36500


class Organization(models.Model):
    """A tenant. Global: listed without an org context (admin switcher, commands)."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100)
    retention_days = models.PositiveIntegerField(
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RETENTION_DAYS)],
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        constraints = [models.UniqueConstraint(fields=["slug"], name="organization_slug_unique")]
        permissions = [
            # Staff enter an org in the admin through a Membership there, or with this
            # (given per person; superusers hold every permission). orgs/admin_org.py.
            ("act_for_any_org", "Can act for any organization in the admin"),
        ]

    def __str__(self) -> str:
        return self.slug


class TenantModel(models.Model):
    """A row that belongs to one organization; its table must be under RLS."""

    org = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_column="org_id"
    )

    class Meta:
        abstract = True


class Project(TenantModel):
    """Where events go; clients name it by `public_id` (`proj_...`)."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100)
    public_id = models.CharField(max_length=64)
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text="CORS origins allowed on /v1/events; empty: any."
    )
    rate_limit_per_second = models.PositiveIntegerField(default=5000)
    session_timeout_minutes = models.PositiveIntegerField(default=30)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["org_id", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["org", "slug"], name="project_slug_unique_per_org"),
            models.UniqueConstraint(fields=["public_id"], name="project_public_id_unique"),
            models.CheckConstraint(
                condition=models.Q(public_id__startswith="proj_"), name="project_public_id_format"
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


class ApiKey(TenantModel):
    """A hashed API key of one project: `ingest` (write-only) or `secret` (reads)."""

    class Kind(models.TextChoices):
        INGEST = "ingest", "Ingest (pk_, write-only)"
        SECRET = "secret", "Secret (sk_, reads)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["prefix"], name="api_key_prefix_unique")]

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @property
    def is_active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None


class Membership(TenantModel):
    """A Django user in an organization, with a role."""

    class Role(models.TextChoices):
        VIEWER = "viewer", "Viewer"
        EDITOR = "editor", "Editor"
        ADMIN = "admin", "Admin"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["org_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["org", "user"], name="membership_unique_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} in org {self.org_id} ({self.role})"
