"""`manage.py create_api_key`: a key that authenticates, an unknown project, a long name."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from orgs import keys
from orgs.authentication import authenticate_key
from tests.conftest import run_json


def test_create_project_and_key_then_authenticate(db, capsys):
    run_json(capsys, "create_org", "--slug", "acme", "--name", "Acme")
    project = run_json(
        capsys, "create_project", "--org", "acme", "--name", "Web", "--public-id", "proj_web"
    )
    assert project["public_id"] == "proj_web" and project["created"] is True
    issued = run_json(capsys, "create_api_key", "--project", "proj_web", "--kind", "ingest")
    assert set(issued) >= {"key", "prefix"}
    assert issued["key"].startswith("pk_") and issued["prefix"] == keys.prefix_of(issued["key"])
    principal = authenticate_key(issued["key"])
    assert principal.project_id == project["id"]


def test_create_api_key_for_unknown_project_fails(db):
    with pytest.raises(CommandError, match="no project"):
        call_command("create_api_key", "--project", "proj_nope", "--kind", "ingest")


def test_create_api_key_rejects_a_name_over_200_characters(acme):
    with pytest.raises(CommandError, match="at most 200 characters"):
        call_command(
            "create_api_key", "--project", acme.project.public_id, "--kind", "secret",
            "--name", "k" * 201,
        )  # fmt: skip
