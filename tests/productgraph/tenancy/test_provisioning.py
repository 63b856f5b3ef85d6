"""The roles as provisioned (productgraph/tenancy/provisioning.py; tenancy.md invariant 2):
tests connect as the runtime role, which is no superuser, bypasses no RLS, owns no table."""

from __future__ import annotations

from django.db import connection

from productgraph.tenancy.roles import OWNER_ROLE, RUNTIME_ROLE


def _role_flags(role: str) -> tuple[bool, bool]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        return cursor.fetchone()


def test_tests_connect_as_the_runtime_role(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == RUNTIME_ROLE


def test_runtime_role_is_not_superuser_and_cannot_bypass_rls(db):
    assert _role_flags(RUNTIME_ROLE) == (False, False)


def test_runtime_role_owns_no_table_and_cannot_truncate(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_has_role(%s, c.relowner, 'USAGE')),"
            "       count(*) FILTER (WHERE has_table_privilege(%s, c.oid, 'TRUNCATE'))"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')",
            [RUNTIME_ROLE, RUNTIME_ROLE],
        )
        assert cursor.fetchone() == (0, 0)


def test_tables_are_owned_by_the_owner_role(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
        )
        assert [row[0] for row in cursor.fetchall()] == [OWNER_ROLE]
