"""The admin finds the orgs a user is a member of before it enters any org.

Memberships are under RLS, so without an org context the runtime role sees none of them;
the admin switcher must know, on every /admin/ request, whether the staff member is a
member of the org in their session and which orgs to list. `productgraph_member_org_ids`
runs as the owner (SECURITY DEFINER, `pg_temp` searched last) and returns only org ids,
never roles or other users' rows. Forced RLS binds the owner too, so a SELECT-only policy
for the owner lets the function see the rows; the runtime role gains nothing from it.
"""

from django.db import migrations

MEMBER_ORG_IDS = """
CREATE POLICY member_org_lookup ON orgs_membership AS PERMISSIVE FOR SELECT
    TO productgraph_owner USING (true);
CREATE FUNCTION productgraph_member_org_ids(p_user_id bigint)
RETURNS TABLE (org_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
    SELECT m.org_id FROM orgs_membership m WHERE m.user_id = p_user_id
$$;
REVOKE ALL ON FUNCTION productgraph_member_org_ids(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION productgraph_member_org_ids(bigint) TO productgraph_app;
"""

DROP_MEMBER_ORG_IDS = """
DROP FUNCTION IF EXISTS productgraph_member_org_ids(bigint);
DROP POLICY IF EXISTS member_org_lookup ON orgs_membership;
"""


class Migration(migrations.Migration):
    dependencies = [("orgs", "0006_act_for_any_org_permission")]

    operations = [migrations.RunSQL(MEMBER_ORG_IDS, DROP_MEMBER_ORG_IDS)]
