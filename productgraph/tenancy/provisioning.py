"""Create and upgrade the roles, the database and the runtime role's grants (idempotent).

Connections here are plain psycopg ones: the admin URL points at the maintenance database,
which Django never connects to.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql

from productgraph.tenancy.roles import (
    OWNER_ROLE,
    RUNTIME_ROLE,
    DatabaseUrls,
    url_database,
    url_password,
    with_credentials,
)

Report = Callable[[str], None]

# The runtime role must never bypass RLS, own tables or manage roles (tenancy.md, inv. 2).
_RUNTIME_ATTRIBUTES = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION"
_OWNER_ATTRIBUTES = "LOGIN NOSUPERUSER NOBYPASSRLS NOREPLICATION"


def _connect(url: str, *, database: str | None = None) -> psycopg.Connection:
    conninfo = url if database is None else _switch_database(url, database)
    return psycopg.connect(conninfo, autocommit=True, connect_timeout=10)


def _switch_database(url: str, database: str) -> str:
    user = psycopg.conninfo.conninfo_to_dict(url).get("user") or ""
    return with_credentials(url, user=str(user), password=url_password(url), database=database)


def _ensure_role(cur: psycopg.Cursor, role: str, password: str, attributes: str) -> str:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    verb = "ALTER" if cur.fetchone() else "CREATE"
    cur.execute(
        sql.SQL("{} ROLE {} WITH " + attributes).format(sql.SQL(verb), sql.Identifier(role))
    )
    if password:
        cur.execute(
            sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    return f"role {role}: {'created' if verb == 'CREATE' else 'up to date'}"


def provision_roles_and_database(
    urls: DatabaseUrls, *, database: str, recreate: bool = False, report: Report = print
) -> None:
    """As the admin URL's user: create/upgrade both roles and the database.

    Without an admin URL the roles and the database must already exist (a DBA made them);
    then this only checks that the owner can connect.
    """
    if urls.admin is None:
        report("no admin URL: the roles must exist already (created by a DBA)")
        if recreate:  # a test database: the owner needs CREATEDB for this
            with _connect(urls.owner, database="postgres") as owner, owner.cursor() as cur:
                cur.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(database)
                    )
                )
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        _connect(urls.owner, database=database).close()
        return
    with _connect(urls.admin, database="postgres") as admin, admin.cursor() as cur:
        report(_ensure_role(cur, OWNER_ROLE, url_password(urls.owner), _OWNER_ATTRIBUTES))
        report(_ensure_role(cur, RUNTIME_ROLE, url_password(urls.runtime), _RUNTIME_ATTRIBUTES))
        # The runtime role must not inherit the owner's rights through membership.
        cur.execute(
            sql.SQL("REVOKE {} FROM {}").format(
                sql.Identifier(OWNER_ROLE), sql.Identifier(RUNTIME_ROLE)
            )
        )
        if recreate:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
        if cur.fetchone() is None:
            cur.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                    sql.Identifier(database), sql.Identifier(OWNER_ROLE)
                )
            )
            report(f"database {database}: created")
        else:
            report(f"database {database}: exists")
    with _connect(urls.admin, database=database) as admin, admin.cursor() as cur:
        # PostgreSQL 14 and older let every role create objects in `public`.
        cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        cur.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER_ROLE)))


def grant_runtime_privileges(urls: DatabaseUrls, *, database: str) -> None:
    """As the owner: give the runtime role DML (never TRUNCATE) on every table, now and later.

    TRUNCATE is left out on purpose: it is not subject to RLS.
    """
    runtime = sql.Identifier(RUNTIME_ROLE)
    owner = sql.Identifier(OWNER_ROLE)
    statements = [
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), runtime),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(runtime),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            runtime
        ),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(runtime),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
        ).format(owner, runtime),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
            "GRANT USAGE, SELECT ON SEQUENCES TO {}"
        ).format(owner, runtime),
    ]
    with _connect(urls.owner, database=database) as owner_conn, owner_conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def truncate_all_tables(urls: DatabaseUrls, *, database: str) -> None:
    """As the owner, empty every table of the schema (tests of committed data use this)."""
    with _connect(urls.owner, database=database) as owner_conn, owner_conn.cursor() as cur:
        cur.execute(
            "SELECT string_agg(format('%I', tablename), ', ') FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename NOT IN "
            "('django_migrations', 'django_content_type', 'auth_permission')"
        )
        row = cur.fetchone()
        tables = row[0] if row else None
        if tables:
            cur.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


def drop_database(urls: DatabaseUrls, *, database: str) -> None:
    """Drop a database (a test database at the end of its run)."""
    with _connect(urls.admin or urls.owner, database="postgres") as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )


def default_database(urls: DatabaseUrls) -> str:
    """Return the database the runtime URL names."""
    return url_database(urls.runtime)
