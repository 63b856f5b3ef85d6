"""Writes of organizations, projects, keys and memberships.

Every tenant write runs inside the org's context (the caller's transaction); the
organization row itself is global.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from orgs import keys
from orgs.models import MAX_RETENTION_DAYS, ApiKey, Membership, Organization, Project
from productgraph.tenancy.context import org_context

LAST_USED_RESOLUTION_SECONDS = 60


class OrgsError(ValueError):
    """A request to create or change an org object that cannot be honoured."""


class NotAMemberError(OrgsError):
    """The person asking is not a member of the org they asked to change."""


def organization_create(
    *, slug: str, name: str, retention_days: int = 90
) -> tuple[Organization, bool]:
    """Create an organization, or return the existing one with that slug (created=False)."""
    if slug != slugify(slug) or not slug or len(slug) > 100:
        raise OrgsError(
            f"invalid slug {slug!r}: at most 100 lowercase letters, digits, hyphens, underscores"
        )
    if not name or len(name) > 200:
        raise OrgsError("an organization name must have 1 to 200 characters")
    if not 1 <= retention_days <= MAX_RETENTION_DAYS:
        raise OrgsError(f"retention must be 1 to {MAX_RETENTION_DAYS} days")
    existing = Organization.objects.filter(slug=slug).first()
    if existing is not None:
        return existing, False
    org = Organization.objects.create(slug=slug, name=name, retention_days=retention_days)
    return org, True


def _new_public_id() -> str:
    return "proj_" + secrets.token_hex(8)


def project_create(
    *, org: Organization, name: str, slug: str | None = None, public_id: str | None = None
) -> tuple[Project, bool]:
    """Create a project in `org`, or return the existing one with that public id or slug."""
    slug = slug or slugify(name)[:100]
    if not slug or slug != slugify(slug) or len(slug) > 100:
        raise OrgsError(f"invalid project slug {slug!r}: at most 100 lowercase letters, digits, -")
    if not name or len(name) > 200:
        raise OrgsError("a project name must have 1 to 200 characters")
    if public_id is not None and (
        not public_id.startswith("proj_") or len(public_id) > 64 or len(public_id) < 6
    ):
        raise OrgsError(f"invalid public id {public_id!r}: it must start with proj_ (max 64)")
    with org_context(org.pk):
        existing = Project.objects.filter(org_id=org.pk, slug=slug)
        if public_id is not None:
            existing = Project.objects.filter(org_id=org.pk, public_id=public_id)
        project = existing.first()
        if project is not None:
            return project, False
        try:
            with transaction.atomic():
                project = Project.objects.create(
                    org=org, name=name, slug=slug, public_id=public_id or _new_public_id()
                )
        except IntegrityError as exc:
            raise OrgsError(f"public id {public_id!r} or slug {slug!r} is already taken") from exc
        return project, True


@dataclass(frozen=True)
class IssuedKey:
    """A newly issued key: the only moment the full key exists in clear."""

    api_key: ApiKey
    key: str


MAX_KEY_NAME_LENGTH = ApiKey._meta.get_field("name").max_length or 200


def api_key_issue(
    *, project: Project, kind: str, name: str = "", created_by: AbstractBaseUser | None = None
) -> IssuedKey:
    """Issue a key for `project`; return it with the full key, which is never stored.

    `created_by` is the person asking (the admin passes the staff member): they must be a
    member of the project's org, whatever their permissions (superusers and holders of
    `orgs.act_for_any_org` included). Operators' commands pass no one and are not checked.
    """
    if kind not in keys.KIND_PREFIXES:
        raise OrgsError(f"kind must be one of {', '.join(keys.KIND_PREFIXES)}")
    if len(name) > MAX_KEY_NAME_LENGTH:
        raise OrgsError(f"a key name has at most {MAX_KEY_NAME_LENGTH} characters")
    with org_context(project.org_id):
        if (
            created_by is not None
            and not Membership.objects.filter(org_id=project.org_id, user_id=created_by.pk).exists()
        ):
            raise NotAMemberError(
                "only members of an organization may create its API keys: "
                f"{created_by.get_username()} is not a member of this one"
            )
        raw = keys.generate(kind)
        api_key = ApiKey.objects.create(
            org_id=project.org_id,
            project=project,
            kind=kind,
            name=name,
            prefix=keys.prefix_of(raw),
            key_hash=keys.digest(raw),
        )
    return IssuedKey(api_key=api_key, key=raw)


def api_key_revoke(*, api_key: ApiKey) -> bool:
    """Revoke a key at once; return False if it was already revoked."""
    with org_context(api_key.org_id):
        updated = ApiKey.objects.filter(
            org_id=api_key.org_id, pk=api_key.pk, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
    return bool(updated)


def api_key_touch(*, key_id: int, org_id: int) -> None:
    """Record that a key was used, at most once a minute and never waiting on a lock.

    Called on every authenticated request only when the stored value is older than
    LAST_USED_RESOLUTION_SECONDS, so a busy key costs one UPDATE a minute, not one a request.
    """
    with org_context(org_id), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orgs_apikey SET last_used_at = now() WHERE id = ("
            " SELECT id FROM orgs_apikey WHERE id = %s AND org_id = %s"
            " FOR UPDATE SKIP LOCKED)",
            [key_id, org_id],
        )


def membership_set(*, org: Organization, user, role: str) -> Membership:
    """Give `user` `role` in `org` (create or update the membership)."""
    if role not in Membership.Role.values:
        raise OrgsError(f"role must be one of {', '.join(Membership.Role.values)}")
    with org_context(org.pk):
        membership, _created = Membership.objects.update_or_create(
            org=org, user=user, defaults={"role": role}
        )
    return membership
