"""The catalog walk of invariant 1 (productgraph/tenancy/inspection.py; tenancy.md)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from productgraph.tenancy.inspection import rls_breaches


def test_catalog_walk_finds_every_tenant_table_compliant(db):
    with connection.cursor() as cursor:
        assert rls_breaches(cursor) == []


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
