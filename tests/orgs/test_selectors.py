"""The orgs selectors (orgs/selectors.py): the key lookup, a SECURITY DEFINER function,
never reads the caller's objects."""

from __future__ import annotations

from django.db import connection


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
