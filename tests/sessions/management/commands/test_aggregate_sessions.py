"""`manage.py aggregate_sessions`: --since, one-line errors (--org: security/test_isolation.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.ingestion.helpers import RECENT
from tests.sessions.helpers import seed_session


def test_aggregate_sessions_since_and_errors(client, acme, capsys):
    seed_session(client, acme, "acme-s")
    since = (RECENT + timedelta(hours=1)).isoformat()  # after the seeded session
    call_command("aggregate_sessions", "--since", since, "--json")
    assert json.loads(capsys.readouterr().out)["sessions"] == 0
    with pytest.raises(CommandError):
        call_command("aggregate_sessions", "--org", "nope")
    # An empty value (an unset shell variable) names nothing: it never widens to every org.
    with pytest.raises(CommandError, match="no organization with slug ''"):
        call_command("aggregate_sessions", "--org", "")
    with pytest.raises(CommandError, match="no project ''"):
        call_command("refresh_journeys", "--project", "")
    for since in ("", "yesterday", "2026-13-01T00:00:00Z", "2026-01-01T25:00:00+00:00"):
        with pytest.raises(CommandError, match="ISO 8601"):
            call_command("aggregate_sessions", "--since", since)
