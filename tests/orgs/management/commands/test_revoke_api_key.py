"""`manage.py revoke_api_key`: idempotent, an unknown prefix in one line."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from orgs import keys
from tests.conftest import run_json


def test_revoke_api_key_is_idempotent(acme, capsys):
    prefix = keys.prefix_of(acme.ingest_key)
    first = run_json(capsys, "revoke_api_key", "--prefix", prefix)
    again = run_json(capsys, "revoke_api_key", "--prefix", prefix)
    assert first == {"prefix": prefix, "revoked": True, "changed": True}
    assert again["changed"] is False


def test_revoke_unknown_prefix_fails(db):
    with pytest.raises(CommandError, match="no API key"):
        call_command("revoke_api_key", "--prefix", "pk_unknown00")
