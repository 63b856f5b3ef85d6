"""The ops commands of orgs: --json output, idempotency, one-line errors, isolation."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from orgs import keys
from orgs.authentication import authenticate_key
from orgs.models import Project
from productgraph.tenancy.context import org_context


def run_json(capsys, *args) -> dict:
    call_command(*args, "--json")
    return json.loads(capsys.readouterr().out)


def test_create_org_is_idempotent_by_slug(db, capsys):
    first = run_json(capsys, "create_org", "--slug", "acme", "--name", "Acme")
    again = run_json(capsys, "create_org", "--slug", "acme", "--name", "Acme")
    assert first["created"] is True and again["created"] is False
    assert first["id"] == again["id"]


def test_create_org_rejects_a_bad_slug_in_one_line(db, capsys):
    with pytest.raises(CommandError, match="invalid slug"):
        call_command("create_org", "--slug", "Not A Slug", "--name", "x")


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


def test_create_project_generates_a_public_id(db, capsys):
    run_json(capsys, "create_org", "--slug", "acme", "--name", "Acme")
    project = run_json(capsys, "create_project", "--org", "acme", "--name", "Mobile App")
    assert project["public_id"].startswith("proj_") and project["slug"] == "mobile-app"


def test_create_project_for_unknown_org_fails(db):
    with pytest.raises(CommandError, match="no organization"):
        call_command("create_project", "--org", "nope", "--name", "x")


def test_create_api_key_for_unknown_project_fails(db):
    with pytest.raises(CommandError, match="no project"):
        call_command("create_api_key", "--project", "proj_nope", "--kind", "ingest")


def test_revoke_api_key_is_idempotent(acme, capsys):
    prefix = keys.prefix_of(acme.ingest_key)
    first = run_json(capsys, "revoke_api_key", "--prefix", prefix)
    again = run_json(capsys, "revoke_api_key", "--prefix", prefix)
    assert first == {"prefix": prefix, "revoked": True, "changed": True}
    assert again["changed"] is False


def test_revoke_unknown_prefix_fails(db):
    with pytest.raises(CommandError, match="no API key"):
        call_command("revoke_api_key", "--prefix", "pk_unknown00")


def test_acme_cannot_take_globex_public_id_through_a_command(acme, globex, capsys):
    with pytest.raises(CommandError, match="already taken"):
        call_command(
            "create_project", "--org", "acme", "--name", "Steal", "--public-id", "proj_globex"
        )
    with org_context(globex.org.pk):
        assert Project.objects.get(public_id="proj_globex").org_id == globex.org.pk


def test_key_issued_for_globex_project_belongs_to_globex(acme, globex, capsys):
    issued = run_json(capsys, "create_api_key", "--project", "proj_globex", "--kind", "secret")
    principal = authenticate_key(issued["key"])
    assert principal.org_id == globex.org.pk and principal.project_id == globex.project.pk


def test_seed_demo_prints_the_same_keys_each_time(db, capsys, settings, tmp_path):
    settings.PRODUCTGRAPH_DATA_DIR = tmp_path
    first = run_json(capsys, "seed_demo")
    again = run_json(capsys, "seed_demo")
    assert first["project"] == "proj_demo"
    assert first["ingest_key"] == again["ingest_key"]
    assert "X-PG-API-Key: " + first["ingest_key"] in first["curl"]
    assert (tmp_path / "demo_keys.json").stat().st_mode & 0o777 == 0o600
    for damaged in ("{not json", '["a list"]', '{"ingest": 42}'):  # new keys, no traceback
        (tmp_path / "demo_keys.json").write_text(damaged)
        fresh = run_json(capsys, "seed_demo")
        assert fresh["project"] == "proj_demo" and fresh["ingest_key"].startswith("pk_")


@pytest.mark.parametrize(
    "args",
    [
        ("create_org", "--slug", "a" * 101, "--name", "x"),
        ("create_org", "--slug", "ok", "--name", "n" * 201),
        ("create_org", "--slug", "ok", "--name", "n", "--retention-days", "0"),
        ("create_org", "--slug", "ok", "--name", "n", "--retention-days", "36501"),
        ("create_org", "--slug", "ok", "--name", "n", "--retention-days", "9" * 12),
    ],
)
def test_create_org_rejects_oversized_input_in_one_line(db, args):
    with pytest.raises(CommandError, match=r"invalid slug|name must have|retention must be"):
        call_command(*args)


def test_create_api_key_rejects_a_name_over_200_characters(acme):
    with pytest.raises(CommandError, match="at most 200 characters"):
        call_command(
            "create_api_key", "--project", acme.project.public_id, "--kind", "secret",
            "--name", "k" * 201,
        )  # fmt: skip


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


def test_seed_demo_curl_sends_an_event_that_is_stored(db, capsys, settings, tmp_path, client):
    import json
    import shlex

    settings.PRODUCTGRAPH_DATA_DIR = tmp_path
    printed = run_json(capsys, "seed_demo")
    words = shlex.split(printed["curl"].replace("\\\n", " "))
    body = words[words.index("-d") + 1]
    response = client.post(
        "/v1/events",
        data=body,
        content_type="application/json",
        HTTP_X_PG_API_KEY=printed["ingest_key"],
    )
    assert response.status_code == 202
    assert json.loads(response.content)["accepted"] == 1, response.content
