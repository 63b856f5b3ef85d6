"""No key, key secret, SECRET_KEY or database password ever reaches a log line.

One session of everything that handles keys — REST and GraphQL requests with valid, revoked,
unknown and malformed keys in both headers, a 500 with a key in scope, key creation and
revocation by management commands — with every logger at DEBUG (SQL statements and their
parameters included) and stdout/stderr captured at the file descriptor. `create_api_key`
prints the key it issues on purpose: that key may appear on stdout, and nowhere else.
"""

from __future__ import annotations

import base64
import io
import json
import logging

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils.module_loading import import_string
from pythonjsonlogger.json import JsonFormatter

from orgs import keys
from productgraph.tenancy.roles import OWNER_ROLE, RUNTIME_ROLE, derived_password, url_password
from tests.graphql_api.helpers import gql
from tests.ingestion.helpers import event, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def everything_at_debug(caplog):
    """Every logger at DEBUG, and Django logging each SQL statement with its parameters."""
    for name in ["", *logging.root.manager.loggerDict]:
        caplog.set_level(logging.DEBUG, logger=name)
    connection.force_debug_cursor = True
    yield caplog
    connection.force_debug_cursor = False


def _secrets_of(key: str) -> list[str]:
    return [key, key[keys.PREFIX_LENGTH :]]  # the whole key and its secret part


def _database_passwords() -> list[str]:
    urls = settings.DATABASE_URLS
    found = {url_password(url) for url in (urls.runtime, urls.owner)}
    found |= {settings.DATABASES[alias].get("PASSWORD") or "" for alias in settings.DATABASES}
    found |= {derived_password(settings.SECRET_KEY, role) for role in (RUNTIME_ROLE, OWNER_ROLE)}
    return sorted(password for password in found if password)


def _log_text(caplog) -> str:
    """Every record as formatted text, with its arguments and any exception text."""
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def test_no_secret_reaches_a_log_line(
    client, acme, globex, everything_at_debug, capfd, monkeypatch
):
    caplog = everything_at_debug
    revoked = acme.ingest_key
    unknown = "sk_" + "Q" * 40
    call_command("revoke_api_key", "--prefix", keys.prefix_of(revoked))

    # Keys issued by commands: printed on stdout on purpose.
    call_command("create_api_key", "--project", "proj_acme", "--kind", "ingest", "--json")
    call_command("create_api_key", "--project", "proj_globex", "--kind", "secret")
    printed = capfd.readouterr()
    lines = printed.out.splitlines()
    issued = next(json.loads(line)["key"] for line in lines if line.startswith('{"key"'))
    human = next(line for line in lines if line.startswith("sk_"))
    assert keys.is_well_formed(issued) and keys.is_well_formed(human)

    batch = {"events": [event()]}
    for key, status in [(issued, 202), (acme.secret_key, 202), (revoked, 401), (unknown, 401)]:
        assert post(client, key, batch).status_code == status
        assert post(client, None, batch, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == status
        if key.startswith("pk_"):  # the places a beacon puts an ingest key (api.md)
            assert post(client, None, batch, path=f"/v1/events?api_key={key}").status_code == status
            assert post(client, None, {**batch, "api_key": key}).status_code == status
    basic = base64.b64encode(f"{issued}:".encode()).decode()
    assert post(client, None, batch, HTTP_AUTHORIZATION=f"Basic {basic}").status_code == 202
    refused = post(client, None, batch, path=f"/v1/events?api_key={acme.secret_key}")
    assert refused.json()["error"]["code"] == "wrong_key_kind"
    assert post(client, issued[:-1], batch).status_code == 401
    assert post(client, issued + "\r\nX: 1", batch).status_code == 401
    graph = [(acme.secret_key, 200), (human, 200), (issued, 403), (revoked, 401), (unknown, 401)]
    for key, status in graph:
        assert gql(client, "{ projects { name } }", key=key).status_code == status

    def crash(**_kwargs):
        raise RuntimeError("crash while a key is in scope")

    monkeypatch.setattr("ingestion.door.events_ingest", crash)
    failed = post(Client(raise_request_exception=False), acme.secret_key, batch)
    assert failed.status_code == 500
    in_query = f"/v1/events?api_key={globex.ingest_key}"
    failed = post(Client(raise_request_exception=False), None, batch, path=in_query)
    assert failed.status_code == 500

    call_command("revoke_api_key", "--prefix", keys.prefix_of(issued), "--json")
    captured = capfd.readouterr()

    logs = _log_text(caplog)
    assert "Internal Server Error" in logs and "productgraph_api_key_lookup" in logs, (
        "the session above must have logged its 500 and its SQL, or this test proves nothing"
    )
    secrets = {
        "SECRET_KEY": [settings.SECRET_KEY],
        "database password": _database_passwords(),
        **{
            f"key {label}": _secrets_of(key)
            for label, key in [
                ("ingest", acme.ingest_key),
                ("secret", acme.secret_key),
                ("globex ingest", globex.ingest_key),
                ("globex secret", globex.secret_key),
                ("issued --json", issued),
                ("issued", human),
                ("unknown", unknown),
            ]
        },
    }
    on_purpose = {issued, human}
    for label, values in secrets.items():
        for value in values:
            assert value not in logs, f"{label} in a log record"
            assert value not in printed.err + captured.err, f"{label} on stderr"
            assert value not in captured.out, f"{label} on stdout"
            if not any(value in key for key in on_purpose):
                assert value not in printed.out, f"{label} on stdout"


def test_a_query_key_never_reaches_the_configured_log_handler(client, acme, globex, monkeypatch):
    """The production JSON formatter writes every extra of a record, and `django.request`
    records carry the request, whose repr holds the query string: the console handler's
    filters (settings.LOGGING) must redact it."""
    config = settings.LOGGING
    json_options = config["formatters"]["json"]
    formatter_options = {
        "fmt": json_options["format"],
        "rename_fields": json_options["rename_fields"],
    }
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(**formatter_options))
    for name in config["handlers"]["console"]["filters"]:
        handler.addFilter(import_string(config["filters"][name]["()"])())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        batch = {"events": [event()]}
        with_acme = f"/v1/events?api_key={acme.ingest_key}"
        assert post(client, globex.ingest_key, batch, path=with_acme).status_code == 400
        assert (
            post(client, None, batch, path=f"/v1/events?api_key={acme.secret_key}").status_code
            == 401
        )

        def crash(**_kwargs):
            raise RuntimeError("crash while a key is in scope")

        monkeypatch.setattr("ingestion.door.events_ingest", crash)
        failed = post(Client(raise_request_exception=False), None, batch, path=with_acme)
        assert failed.status_code == 500
    finally:
        root.removeHandler(handler)
    written = stream.getvalue()
    assert "Bad Request" in written and "Internal Server Error" in written, written
    assert "api_key=[redacted]" in written, "the records carried the request: redacted"
    for key in (acme.ingest_key, acme.secret_key, globex.ingest_key):
        for secret in _secrets_of(key):
            assert secret not in written
