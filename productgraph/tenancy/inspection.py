"""Walk the catalog and list every breach of the RLS invariants (tenancy.md)."""

from __future__ import annotations

import re

from productgraph.tenancy.policies import POLICY_NAME
from productgraph.tenancy.roles import RUNTIME_ROLE

# What PostgreSQL prints back for the policy expression, whitespace and casts aside: the
# whole expression (matched in full: `... OR true` around it is not the org policy).
_ORG_COMPARISON = re.compile(
    r"\s*\(?\s*org_id\s*=\s*\(?\s*NULLIF\s*\(\s*current_setting\s*\(\s*"
    r"'app\.current_org_id'(::text)?\s*,\s*true\s*\)\s*,\s*''(::text)?\s*\)\s*\)?::bigint"
    r"\s*\)?\s*",
    re.IGNORECASE,
)

_TENANT_TABLES = """
SELECT c.oid, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
       a.attnotnull, pg_get_userbyid(c.relowner)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""

_POLICIES = """
SELECT policyname, permissive, roles::text[], cmd, qual, with_check
FROM pg_policies WHERE schemaname = 'public' AND tablename = %s
"""

_ROLE = """
SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb
FROM pg_roles WHERE rolname = %s
"""

_OWNED_OR_TRUNCATABLE = """
SELECT c.relname,
       pg_has_role(%(role)s, c.relowner, 'USAGE') AS owns,
       has_table_privilege(%(role)s, c.oid, 'TRUNCATE') AS truncates
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
"""


# The roles whose policies bind the runtime role: itself, every role it is a member of
# (directly or not), and PUBLIC.
_RUNTIME_ROLES = """
SELECT r.rolname FROM pg_roles r JOIN pg_roles me ON me.rolname = %s
WHERE pg_has_role(me.oid, r.oid, 'MEMBER')
"""


def _runtime_roles(cursor) -> set[str]:
    cursor.execute(_RUNTIME_ROLES, [RUNTIME_ROLE])
    return {"public", *(name for (name,) in cursor.fetchall())}


def table_breaches(
    cursor, table: str, row: tuple, runtime_roles: set[str] | None = None
) -> list[str]:
    """Return the breaches of invariant 1 for one table with an `org_id` column."""
    if runtime_roles is None:
        runtime_roles = _runtime_roles(cursor)
    _oid, _name, _kind, enabled, forced, notnull, _owner = row
    breaches = []
    if not enabled:
        breaches.append(f"{table}: row-level security is not enabled")
    if not forced:
        breaches.append(f"{table}: row-level security is not forced")
    if not notnull:
        breaches.append(f"{table}: org_id is nullable")
    cursor.execute(_POLICIES, [table])
    policies = cursor.fetchall()
    found = False
    for name, permissive, roles, cmd, qual, with_check in policies:
        applies = bool(set(roles) & runtime_roles)
        is_org_policy = bool(
            qual
            and _ORG_COMPARISON.fullmatch(qual)
            and with_check
            and _ORG_COMPARISON.fullmatch(with_check)
        )
        if name == POLICY_NAME and cmd == "ALL" and applies and is_org_policy:
            found = True
        elif applies and permissive == "PERMISSIVE" and not is_org_policy:
            breaches.append(
                f"{table}: permissive policy {name} lets the runtime role past the org check"
            )
    if not found:
        breaches.append(
            f"{table}: no policy {POLICY_NAME} comparing org_id with app.current_org_id "
            "in USING and WITH CHECK"
        )
    return breaches


# SECURITY DEFINER functions of the public schema whose search_path does not end with
# pg_temp: the caller's temporary schema would be searched first, and a temporary object
# could stand in for a table the function reads as its owner.
_DEFINERS_WITHOUT_PG_TEMP_LAST = """
SELECT p.oid::regprocedure::text
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.prosecdef
  AND NOT EXISTS (
    SELECT 1 FROM unnest(p.proconfig) AS setting
    WHERE setting LIKE 'search_path=%%' AND replace(setting, ' ', '') LIKE '%%,pg_temp'
  )
ORDER BY 1
"""


def rls_breaches(cursor) -> list[str]:
    """Return every breach of the RLS invariants visible in the catalog (empty: all hold)."""
    breaches: list[str] = []
    cursor.execute(_TENANT_TABLES)
    tables = cursor.fetchall()
    if not tables:
        breaches.append("no table has an org_id column: are the migrations applied?")
    runtime_roles = _runtime_roles(cursor)
    for row in tables:
        breaches.extend(table_breaches(cursor, row[1], row, runtime_roles))

    cursor.execute(_ROLE, [RUNTIME_ROLE])
    role = cursor.fetchone()
    if role is None:
        breaches.append(f"runtime role {RUNTIME_ROLE} does not exist")
    else:
        superuser, bypass, createrole, createdb = role
        for flag, label in [
            (superuser, "is a superuser"),
            (bypass, "has BYPASSRLS"),
            (createrole, "has CREATEROLE"),
            (createdb, "has CREATEDB"),
        ]:
            if flag:
                breaches.append(f"runtime role {RUNTIME_ROLE} {label}")
        cursor.execute(_OWNED_OR_TRUNCATABLE, {"role": RUNTIME_ROLE})
        for relname, owns, truncates in cursor.fetchall():
            if owns:
                breaches.append(f"runtime role {RUNTIME_ROLE} owns table {relname}")
            elif truncates:
                breaches.append(
                    f"runtime role {RUNTIME_ROLE} may TRUNCATE {relname} (bypasses RLS)"
                )

    cursor.execute(_DEFINERS_WITHOUT_PG_TEMP_LAST)
    for (function,) in cursor.fetchall():
        breaches.append(
            f"SECURITY DEFINER function {function} does not search pg_temp last"
            " (set search_path = ..., pg_temp)"
        )

    cursor.execute("SELECT current_user")
    current = cursor.fetchone()[0]
    if current != RUNTIME_ROLE:
        breaches.append(
            f"the application connects as {current}, not as the runtime role {RUNTIME_ROLE}"
        )
    return breaches
