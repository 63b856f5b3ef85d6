"""The bench's own database and tenant, prepared the way production prepares its own.

Same server as the settings name (the embedded one by default), a dedicated database
(`<name>_bench`, recreated on every run, dropped after it), provisioned like
`setup_database` and the test suite do: roles and database as the admin, migrations as the
owner, DML grants for the runtime role. The tenant is made through `orgs.services`, with
the two journeys `ingestion.generator`'s visits walk (checkout, onboarding) defined through
`journeys.services`, so that each session fold also matches journeys, as it does for a
project that tags its events with them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction

from ingestion.generator import (
    CHECKOUT_JOURNEY,
    CHECKOUT_STEPS,
    ONBOARDING_JOURNEY,
    ONBOARDING_STEPS,
)
from journeys.services import journey_create
from orgs import services
from orgs.models import Project
from productgraph.tenancy.context import org_context
from productgraph.tenancy.provisioning import (
    default_database,
    drop_database,
    grant_runtime_privileges,
    provision_roles_and_database,
)
from productgraph.tenancy.roles import DatabaseUrls, url_password, url_user, with_credentials

ORG_SLUG = "bench"
PROJECT_PUBLIC_ID = "proj_bench"
# The limiter stays in the path (one Redis script per request) but never throttles the bench.
RATE_LIMIT_PER_SECOND = 100_000_000


JOURNEYS = (
    (CHECKOUT_JOURNEY, "Checkout", CHECKOUT_STEPS),
    (ONBOARDING_JOURNEY, "Onboarding", ONBOARDING_STEPS),
)


def journey_steps(steps: tuple[tuple[str, str, str, float], ...]) -> list[dict[str, object]]:
    """A journey definition's steps for the generator's (id, name, page path, _) steps."""
    return [
        {"id": step_id, "name": name, "match": [{"field": "page.path", "op": "eq", "value": path}]}
        for step_id, name, path, _ in steps
    ]


@dataclass(frozen=True)
class BenchTenant:
    """The bench database, its URLs and the tenant the load is sent as."""

    database: str
    urls: DatabaseUrls
    org_id: int
    project_id: int
    project_public_id: str
    project_slug: str
    ingest_key: str


def bench_database_name() -> str:
    """`BENCH_DATABASE`, or the configured database's name with `_bench` appended."""
    return os.environ.get("BENCH_DATABASE") or f"{default_database(settings.DATABASE_URLS)}_bench"


def database_urls(database: str) -> DatabaseUrls:
    """The configured URLs (same server, same roles), pointed at `database`."""
    urls = settings.DATABASE_URLS

    def rename(url: str) -> str:
        return with_credentials(
            url, user=url_user(url), password=url_password(url), database=database
        )

    return replace(urls, runtime=rename(urls.runtime), owner=rename(urls.owner))


def attach(database: str) -> None:
    """Point Django's connections (the runtime role's and the owner's) at `database`."""
    for alias in ("default", "owner"):
        connections[alias].close()
        connections[alias].settings_dict["NAME"] = database
        settings.DATABASES[alias]["NAME"] = database


def prepare(report=print, *, database: str | None = None) -> BenchTenant:
    """Recreate the bench database, migrate it as the owner, create the bench tenant."""
    database = database or bench_database_name()
    urls = database_urls(database)
    attach(database)
    provision_roles_and_database(urls, database=database, recreate=True, report=report)
    grant_runtime_privileges(urls, database=database)
    call_command("migrate", database="owner", interactive=False, verbosity=0)
    grant_runtime_privileges(urls, database=database)
    connections["owner"].close()
    return tenant_create(database=database, urls=urls, slug=ORG_SLUG, public_id=PROJECT_PUBLIC_ID)


def tenant_create(*, database: str, urls: DatabaseUrls, slug: str, public_id: str) -> BenchTenant:
    """An organization and project (unthrottled, with the two journeys) and its ingest key,
    in the database Django's connections point at."""
    with transaction.atomic():
        org, _ = services.organization_create(slug=slug, name=slug.title())
        project, _ = services.project_create(org=org, name=slug.title(), public_id=public_id)
        key = services.api_key_issue(project=project, kind="ingest", name=f"make {slug}").key
        with org_context(org.pk):
            Project.objects.filter(org_id=org.pk, pk=project.pk).update(
                rate_limit_per_second=RATE_LIMIT_PER_SECOND
            )
            for journey_key, name, steps in JOURNEYS:
                journey_create(
                    project=project, key=journey_key, name=name, steps=journey_steps(steps)
                )
    connections.close_all()
    return BenchTenant(
        database=database,
        urls=urls,
        org_id=org.pk,
        project_id=project.pk,
        project_public_id=project.public_id,
        project_slug=project.slug,
        ingest_key=key,
    )


def drop(tenant: BenchTenant) -> None:
    """Drop the bench database (it holds only what the run wrote)."""
    connections.close_all()
    drop_database(tenant.urls, database=tenant.database)
