"""What every ops command shares (productgraph/management/base.py): the JSON error
envelope, one-line errors, exit codes 2 (usage) and 130 (interrupted)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def test_json_errors_use_the_error_envelope(db, capsys):
    with pytest.raises(CommandError):
        call_command("create_project", "--org", "nope", "--name", "x", "--json")
    payload = json.loads(capsys.readouterr().out)
    assert payload["error"]["code"] == "command_error"


def test_a_database_failure_is_one_line_and_a_json_error(db, capsys, monkeypatch):
    from django.db import OperationalError

    from orgs.management.commands import create_org

    def refused(**_kwargs):
        raise OperationalError('connection refused\n\tIs the server running on "db"?')

    monkeypatch.setattr(create_org, "organization_create", refused)
    with pytest.raises(CommandError) as raised:
        call_command("create_org", "--slug", "ops", "--name", "Ops", "--json")
    message = 'OperationalError: connection refused Is the server running on "db"?'
    assert str(raised.value) == message
    assert json.loads(capsys.readouterr().out) == {
        "error": {"code": "command_error", "message": message}
    }


def test_an_interrupted_command_exits_130(db, monkeypatch):
    from orgs.management.commands import create_org

    def interrupted(**_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(create_org, "organization_create", interrupted)
    with pytest.raises(CommandError) as raised:
        call_command("create_org", "--slug", "ops", "--name", "Ops")
    assert raised.value.returncode == 130


def test_a_usage_error_is_one_line_and_exits_2():
    from tests.conftest import manage_py

    done = manage_py("create_org", "--slug", "x", "--json")
    assert done.returncode == 2
    message = "the following arguments are required: --name (see manage.py create_org --help)"
    assert done.stderr.strip().splitlines()[-1] == f"CommandError: {message}"
    assert "usage:" not in done.stderr
    assert json.loads(done.stdout) == {"error": {"code": "command_error", "message": message}}


def test_a_number_out_of_range_is_a_usage_error_exit_2_in_one_line():
    from tests.conftest import manage_py

    done = manage_py("ensure_partitions", "--months-ahead", "200", "--json")
    assert done.returncode == 2
    message = (
        "argument --months-ahead: must be between 0 and 120, not 200 "
        "(see manage.py ensure_partitions --help)"
    )
    assert done.stderr.strip().splitlines() == [f"CommandError: {message}"]
    assert json.loads(done.stdout) == {"error": {"code": "command_error", "message": message}}
