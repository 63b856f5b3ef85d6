"""`manage.py create_project`: a generated public id, an unknown org."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.conftest import run_json


def test_create_project_generates_a_public_id(db, capsys):
    run_json(capsys, "create_org", "--slug", "acme", "--name", "Acme")
    project = run_json(capsys, "create_project", "--org", "acme", "--name", "Mobile App")
    assert project["public_id"].startswith("proj_") and project["slug"] == "mobile-app"


def test_create_project_for_unknown_org_fails(db):
    with pytest.raises(CommandError, match="no organization"):
        call_command("create_project", "--org", "nope", "--name", "x")
