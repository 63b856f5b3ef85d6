"""Test database set-up: a real PostgreSQL, the owner migrates, tests run as the runtime role."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections, transaction

from orgs import services
from orgs.models import Organization, Project
from productgraph.tenancy.provisioning import (
    default_database,
    drop_database,
    grant_runtime_privileges,
    provision_roles_and_database,
    truncate_all_tables,
)
from productgraph.tenancy.roles import url_password, url_user, with_credentials


def _test_database_name() -> str:
    # One database per pytest process: concurrent runs on one server never collide.
    return f"test_{default_database(settings.DATABASE_URLS)}_{os.getpid()}"


def _test_urls():
    urls = settings.DATABASE_URLS
    name = _test_database_name()

    def rename(url: str) -> str:
        return with_credentials(url, user=url_user(url), password=url_password(url), database=name)

    return replace(urls, runtime=rename(urls.runtime), owner=rename(urls.owner)), name


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    """Create the test database as in production: roles, owner-run migrations, grants."""
    urls, name = _test_urls()
    for alias in ("default", "owner"):
        connections[alias].close()
        connections[alias].settings_dict["NAME"] = name
        settings.DATABASES[alias]["NAME"] = name
    with django_db_blocker.unblock():
        provision_roles_and_database(urls, database=name, recreate=True, report=lambda _: None)
        grant_runtime_privileges(urls, database=name)
        call_command("migrate", database="owner", interactive=False, verbosity=0)
        grant_runtime_privileges(urls, database=name)
        connections["owner"].close()
    yield
    connections.close_all()
    with django_db_blocker.unblock():
        drop_database(urls, database=name)


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Let a test commit for real (middleware, persistent connections); empty tables after."""
    with django_db_blocker.unblock():
        yield
        connections.close_all()
        urls, name = _test_urls()
        truncate_all_tables(urls, database=name)


@dataclass(frozen=True)
class Tenant:
    """One organization with a project and one key of each kind."""

    org: Organization
    project: Project
    ingest_key: str
    secret_key: str


def make_tenant(slug: str) -> Tenant:
    """Create an org `slug` with project `proj_<slug>` and keys (inside a transaction)."""
    with transaction.atomic():
        org, _ = services.organization_create(slug=slug, name=slug.title())
        project, _ = services.project_create(org=org, name="Web", public_id=f"proj_{slug}")
        ingest = services.api_key_issue(project=project, kind="ingest", name="test").key
        secret = services.api_key_issue(project=project, kind="secret", name="test").key
    return Tenant(org=org, project=project, ingest_key=ingest, secret_key=secret)


@pytest.fixture
def acme(db) -> Tenant:
    return make_tenant("acme")


@pytest.fixture
def globex(db) -> Tenant:
    return make_tenant("globex")


@pytest.fixture
def staff(db):
    """A superuser, who may act for any org in the admin."""
    return get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")


@pytest.fixture
def staff_client(client, staff):
    """The test client, logged in as `staff`."""
    client.force_login(staff)
    return client


@contextmanager
def database_down() -> Iterator[None]:
    """Point the default connection at a closed port for the block (PostgreSQL "down")."""
    connection = connections["default"]
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def manage_py(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `manage.py` as an operator does, in its own process (exit codes, stdout, stderr)."""
    from config.env import BASE_DIR

    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py, fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_json(capsys, *args: str) -> dict:
    """Run a management command with --json in this process; return what it printed."""
    call_command(*args, "--json")
    return json.loads(capsys.readouterr().out)
