"""Database roles and the three connection URLs derived from the environment.

ProductGraph talks to PostgreSQL as two roles (tenancy.md, invariant 2):

* the **owner** (`productgraph_owner`) owns the schema and runs migrations;
* the **runtime** role (`productgraph_app`) is what the web process, the workers and the
  management commands connect as: not a superuser, not an owner, no BYPASSRLS, so every
  row it reads or writes passes the Row-Level Security policies.

A third, optional **admin** URL (a superuser or a role with CREATEROLE/CREATEDB) is used
only by `setup_database` to create the roles and the database.

`DATABASE_URL` is the runtime role's URL. For convenience on a development machine it may
instead name an administrative user (e.g. `postgres://postgres@localhost/productgraph`):
then that URL becomes the admin URL and the runtime and owner URLs are derived from it
(same server and database, the two role names, passwords derived from `SECRET_KEY`).
See docs/adr/0001-tenancy-with-row-level-security.md.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

RUNTIME_ROLE = "productgraph_app"
OWNER_ROLE = "productgraph_owner"


@dataclass(frozen=True)
class DatabaseUrls:
    """The runtime, owner and (optional) admin connection URLs."""

    runtime: str
    owner: str
    admin: str | None


def url_user(url: str) -> str:
    """Return the user name of a PostgreSQL URL ('' when it names none)."""
    return unquote(urlsplit(url).username or "")


def url_password(url: str) -> str:
    """Return the password of a PostgreSQL URL ('' when it has none)."""
    return unquote(urlsplit(url).password or "")


def url_database(url: str) -> str:
    """Return the database name of a PostgreSQL URL."""
    return unquote(urlsplit(url).path.lstrip("/"))


def with_credentials(url: str, *, user: str, password: str, database: str | None = None) -> str:
    """Return `url` with its user and password (and optionally database) replaced."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    auth = quote(user, safe="")
    if password:
        auth += ":" + quote(password, safe="")
    path = "/" + quote(database, safe="") if database is not None else parts.path
    return urlunsplit((parts.scheme, f"{auth}@{host}", path, parts.query, parts.fragment))


def derived_password(secret_key: str, role: str) -> str:
    """Return the password `setup_database` gives a role it creates from an admin URL."""
    return hmac.new(
        secret_key.encode(), f"productgraph-role:{role}".encode(), hashlib.sha256
    ).hexdigest()[:40]


def resolve_urls(
    *, database_url: str, owner_url: str | None, admin_url: str | None, secret_key: str
) -> DatabaseUrls:
    """Derive the runtime, owner and admin URLs from what the environment gave."""
    if url_user(database_url) == RUNTIME_ROLE:
        owner = owner_url or with_credentials(
            database_url, user=OWNER_ROLE, password=url_password(database_url)
        )
        return DatabaseUrls(runtime=database_url, owner=owner, admin=admin_url)
    # DATABASE_URL names an administrative user: connect at runtime as the runtime role.
    runtime = with_credentials(
        database_url, user=RUNTIME_ROLE, password=derived_password(secret_key, RUNTIME_ROLE)
    )
    owner = owner_url or with_credentials(
        database_url, user=OWNER_ROLE, password=derived_password(secret_key, OWNER_ROLE)
    )
    return DatabaseUrls(runtime=runtime, owner=owner, admin=admin_url or database_url)
