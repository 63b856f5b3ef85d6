"""`manage.py create_org`: idempotent by slug, bad or oversized input in one line."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.conftest import run_json


def test_create_org_is_idempotent_by_slug(db, capsys):
    first = run_json(capsys, "create_org", "--slug", "acme", "--name", "Acme")
    again = run_json(capsys, "create_org", "--slug", "acme", "--name", "Acme")
    assert first["created"] is True and again["created"] is False
    assert first["id"] == again["id"]


def test_create_org_rejects_a_bad_slug_in_one_line(db, capsys):
    with pytest.raises(CommandError, match="invalid slug"):
        call_command("create_org", "--slug", "Not A Slug", "--name", "x")


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
