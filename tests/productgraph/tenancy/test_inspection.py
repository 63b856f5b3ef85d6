"""The catalog walk of invariant 1 and the runtime role of invariant 2 (tenancy.md)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from productgraph.tenancy.inspection import rls_breaches
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


def test_catalog_walk_finds_every_tenant_table_compliant(db):
    with connection.cursor() as cursor:
        assert rls_breaches(cursor) == []


def test_check_rls_command_exits_zero(db, capsys):
    call_command("check_rls")
    assert "RLS invariants hold" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("ddl", "expected"),
    [
        (
            "CREATE TABLE leaky (id int, org_id bigint NOT NULL)",
            "row-level security is not enabled",
        ),
        (
            "CREATE TABLE leaky (id int, org_id bigint NOT NULL);"
            "ALTER TABLE leaky ENABLE ROW LEVEL SECURITY;"
            "CREATE POLICY org_isolation ON leaky USING (org_id = NULLIF("
            "current_setting('app.current_org_id', true), '')::bigint) WITH CHECK (org_id = NULLIF("
            "current_setting('app.current_org_id', true), '')::bigint)",
            "row-level security is not forced",
        ),
        (
            "CREATE TABLE leaky (id int, org_id bigint NOT NULL);"
            "ALTER TABLE leaky ENABLE ROW LEVEL SECURITY;"
            "ALTER TABLE leaky FORCE ROW LEVEL SECURITY;"
            "CREATE POLICY org_isolation ON leaky USING (org_id = NULLIF("
            "current_setting('app.current_org_id', true), '')::bigint) WITH CHECK (true)",
            "no policy org_isolation",
        ),
        (
            "CREATE TABLE leaky (id int, org_id bigint NOT NULL);"
            "ALTER TABLE leaky ENABLE ROW LEVEL SECURITY;"
            "ALTER TABLE leaky FORCE ROW LEVEL SECURITY;"
            "CREATE POLICY org_isolation ON leaky USING (org_id = NULLIF("
            "current_setting('app.current_org_id', true), '')::bigint) WITH CHECK (org_id = NULLIF("
            "current_setting('app.current_org_id', true), '')::bigint);"
            "CREATE POLICY everyone ON leaky FOR SELECT USING (true)",
            "permissive policy everyone",
        ),
        (
            "CREATE TABLE leaky (id int, org_id bigint NOT NULL);"
            "ALTER TABLE leaky ENABLE ROW LEVEL SECURITY;"
            "ALTER TABLE leaky FORCE ROW LEVEL SECURITY;"
            "CREATE POLICY org_isolation ON leaky USING (org_id = NULLIF("
            "current_setting('app.current_org_id', true), '')::bigint OR true) WITH CHECK "
            "(org_id = NULLIF(current_setting('app.current_org_id', true), '')::bigint)",
            "permissive policy org_isolation",  # the comparison inside, but not the whole
        ),
    ],
)
def test_catalog_walk_reports_a_table_that_breaks_invariant_1(committed, ddl, expected):
    owner = connections["owner"]
    with owner.cursor() as cursor:
        cursor.execute(ddl)
    try:
        with connection.cursor() as cursor:
            breaches = rls_breaches(cursor)
        assert any(b.startswith("leaky:") and expected in b for b in breaches), breaches
        with pytest.raises(CommandError):
            call_command("check_rls")
    finally:
        with owner.cursor() as cursor:
            cursor.execute("DROP TABLE leaky")
        owner.close()


def test_a_temporary_view_cannot_stand_in_for_the_keys_table_in_the_key_lookup(acme):
    """The SECURITY DEFINER lookup runs as the owner: it must never read the caller's objects."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP VIEW orgs_apikey AS SELECT 1::bigint AS id, 1::bigint AS org_id,"
            " 1::bigint AS project_id, 'ingest'::varchar AS kind, 'x'::varchar AS key_hash,"
            " now() AS last_used_at, NULL::timestamptz AS revoked_at, 'pwned'::varchar AS prefix"
        )
        cursor.execute("SELECT count(*) FROM productgraph_api_key_lookup('pwned')")
        assert cursor.fetchone()[0] == 0
        cursor.execute("DROP VIEW pg_temp.orgs_apikey")


def test_catalog_walk_reports_a_definer_function_that_searches_pg_temp_first(committed):
    owner = connections["owner"]
    with owner.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION leaky_definer() RETURNS int LANGUAGE sql SECURITY DEFINER"
            " SET search_path = pg_catalog, public AS 'SELECT 1'"
        )
    try:
        with connection.cursor() as cursor:
            breaches = rls_breaches(cursor)
        assert breaches == [
            "SECURITY DEFINER function leaky_definer() does not search pg_temp last"
            " (set search_path = ..., pg_temp)"
        ]
    finally:
        with owner.cursor() as cursor:
            cursor.execute("DROP FUNCTION leaky_definer()")
        owner.close()


def test_catalog_walk_reports_a_permissive_policy_of_a_group_the_runtime_role_is_in(committed):
    from django.conf import settings

    admin_url = settings.DATABASE_URLS.admin
    if admin_url is None:
        pytest.skip("creating a role needs the admin URL")
    import psycopg

    with psycopg.connect(admin_url, dbname="postgres", autocommit=True) as admin:
        admin.execute("CREATE ROLE productgraph_test_group NOLOGIN")
        admin.execute("GRANT productgraph_test_group TO productgraph_app")
    owner = connections["owner"]
    try:
        with owner.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE leaky (id int, org_id bigint NOT NULL);"
                "ALTER TABLE leaky ENABLE ROW LEVEL SECURITY;"
                "ALTER TABLE leaky FORCE ROW LEVEL SECURITY;"
                "CREATE POLICY org_isolation ON leaky USING (org_id = NULLIF("
                "current_setting('app.current_org_id', true), '')::bigint) WITH CHECK (org_id = "
                "NULLIF(current_setting('app.current_org_id', true), '')::bigint);"
                "CREATE POLICY helpdesk ON leaky FOR SELECT TO productgraph_test_group USING (true)"
            )
        with connection.cursor() as cursor:
            breaches = rls_breaches(cursor)
        assert any(
            b.startswith("leaky:") and "permissive policy helpdesk" in b for b in breaches
        ), breaches
    finally:
        with owner.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS leaky")
        owner.close()
        with psycopg.connect(admin_url, dbname="postgres", autocommit=True) as admin:
            admin.execute("DROP ROLE productgraph_test_group")
