"""Put every tenant table of `orgs` under RLS; add the pre-auth key lookup function."""

from django.db import migrations

from productgraph.tenancy.operations import EnableRowLevelSecurity

# The runtime role finds a key by prefix before it knows the org. This function runs as
# the owner (SECURITY DEFINER) and returns the one row with exactly that prefix. Forced RLS
# binds the owner too, so a SELECT-only policy for the owner lets the function see the row;
# the runtime role gains nothing from that policy (check_rls verifies it).
LOOKUP_FUNCTION = """
CREATE POLICY api_key_lookup ON orgs_apikey AS PERMISSIVE FOR SELECT
    TO productgraph_owner USING (true);
CREATE FUNCTION productgraph_api_key_lookup(p_prefix text)
RETURNS TABLE (id bigint, org_id bigint, project_id bigint, kind varchar,
               key_hash varchar, last_used_at timestamptz, revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    SELECT k.id, k.org_id, k.project_id, k.kind, k.key_hash, k.last_used_at, k.revoked_at
    FROM orgs_apikey k WHERE k.prefix = p_prefix
$$;
REVOKE ALL ON FUNCTION productgraph_api_key_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION productgraph_api_key_lookup(text) TO productgraph_app;
"""

DROP_LOOKUP_FUNCTION = """
DROP FUNCTION IF EXISTS productgraph_api_key_lookup(text);
DROP POLICY IF EXISTS api_key_lookup ON orgs_apikey;
"""


class Migration(migrations.Migration):
    dependencies = [("orgs", "0001_initial")]

    operations = [
        EnableRowLevelSecurity("project"),
        EnableRowLevelSecurity("apikey"),
        EnableRowLevelSecurity("membership"),
        migrations.RunSQL(LOOKUP_FUNCTION, DROP_LOOKUP_FUNCTION),
    ]
