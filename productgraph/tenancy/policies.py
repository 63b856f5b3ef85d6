"""The SQL of the org-isolation policy, in one place (used by migrations and check_rls)."""

from __future__ import annotations

POLICY_NAME = "org_isolation"
CURRENT_ORG = "NULLIF(current_setting('app.current_org_id', true), '')::bigint"


def _quote(table: str) -> str:
    return '"' + table.replace('"', '""') + '"'


def enable_rls_sql(table: str) -> list[str]:
    """Return the statements that enable and force RLS on `table` with the org policy."""
    quoted = _quote(table)
    return [
        f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY_NAME} ON {quoted}",
        f"CREATE POLICY {POLICY_NAME} ON {quoted} AS PERMISSIVE FOR ALL "
        f"USING (org_id = {CURRENT_ORG}) WITH CHECK (org_id = {CURRENT_ORG})",
    ]


def disable_rls_sql(table: str) -> list[str]:
    """Return the statements that undo `enable_rls_sql`."""
    quoted = _quote(table)
    return [
        f"DROP POLICY IF EXISTS {POLICY_NAME} ON {quoted}",
        f"ALTER TABLE {quoted} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {quoted} DISABLE ROW LEVEL SECURITY",
    ]
