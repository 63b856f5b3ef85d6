"""API key authentication: headers, errors, revocation, last_used_at (api.md, tenancy.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command

from orgs import authentication, keys
from orgs.models import ApiKey
from productgraph.tenancy.context import org_context

pytestmark = pytest.mark.urls("tests.probe_urls")


def test_x_pg_api_key_header_authenticates(client, acme):
    response = client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.ingest_key)
    assert response.status_code == 200
    assert response.json()["project_id"] == acme.project.pk
    assert response.json()["kind"] == "ingest"


def test_bearer_header_authenticates(client, acme):
    response = client.get("/probe/whoami", HTTP_AUTHORIZATION=f"Bearer {acme.secret_key}")
    assert response.status_code == 200
    assert response.json()["kind"] == "secret"


def test_missing_key_is_401_missing_api_key(client, db):
    response = client.get("/probe/whoami")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"


@pytest.mark.parametrize(
    "key",
    [
        "garbage",
        "pk_" + "a" * 40,
        "pk_" + "a" * 39 + "!",
        "xx_" + "a" * 40,
        "pk_" + "a" * 4000,
        "' OR 1=1 --",
    ],
)
def test_malformed_or_unknown_key_is_401_invalid_api_key(client, acme, key):
    response = client.get("/probe/whoami", HTTP_X_PG_API_KEY=key)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_key_with_right_prefix_but_wrong_secret_is_rejected(client, acme):
    forged = acme.ingest_key[: keys.PREFIX_LENGTH] + "Z" * (keys.KEY_LENGTH - keys.PREFIX_LENGTH)
    response = client.get("/probe/whoami", HTTP_X_PG_API_KEY=forged)
    assert response.status_code == 401


def test_revoked_key_is_rejected_at_once(client, acme, capsys):
    prefix = keys.prefix_of(acme.ingest_key)
    call_command("revoke_api_key", "--prefix", prefix)
    response = client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.ingest_key)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    other = client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.secret_key)
    assert other.status_code == 200, "revoking one key leaves the project's other keys alone"


def test_keys_are_stored_only_as_hashes(acme):
    with org_context(acme.org.pk):
        stored = list(ApiKey.objects.values_list("prefix", "key_hash"))
    assert len(stored) == 2
    for prefix, key_hash in stored:
        assert len(key_hash) == 64
        assert acme.ingest_key not in (prefix, key_hash)
        assert len(prefix) == keys.PREFIX_LENGTH


def _last_used(acme):
    with org_context(acme.org.pk):
        return ApiKey.objects.get(prefix=keys.prefix_of(acme.ingest_key)).last_used_at


def test_last_used_at_is_written_at_most_once_a_minute(client, acme):
    authentication._last_touched.clear()
    assert _last_used(acme) is None
    client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.ingest_key)
    first = _last_used(acme)
    assert first is not None
    client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.ingest_key)
    assert _last_used(acme) == first, "a second request within the minute writes nothing"

    stale = first - timedelta(minutes=2)
    with org_context(acme.org.pk):
        ApiKey.objects.filter(prefix=keys.prefix_of(acme.ingest_key)).update(last_used_at=stale)
    authentication._last_touched.clear()
    client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.ingest_key)
    assert _last_used(acme) > stale


def test_an_acme_key_never_sees_globex(client, acme, globex):
    response = client.get("/probe/whoami", HTTP_X_PG_API_KEY=acme.secret_key)
    assert response.json()["visible_projects"] == ["proj_acme"]
    assert response.json()["org_id"] == acme.org.pk


def test_the_logs_key_shape_matches_every_key_kind():
    """productgraph.log_redaction cannot import orgs (the kernel imports no app): its key
    pattern is checked against the real format here, so neither drifts alone."""
    from orgs import keys
    from productgraph.log_redaction import KEY_SHAPE, redact_keys

    for kind in keys.KIND_PREFIXES:
        key = keys.generate(kind)
        assert KEY_SHAPE.fullmatch(key), kind
        assert redact_keys(f"GET /{key} x") == f"GET /{key[:3]}[redacted] x"
