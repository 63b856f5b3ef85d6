"""The key lookup function (SECURITY DEFINER) searches the temporary schema last.

Without `pg_temp` in its `search_path`, PostgreSQL searches the caller's temporary schema
first for table names: the runtime role (it may create temporary objects) could shadow
`orgs_apikey` with a temporary view calling its own function, run as the owner. Listed last,
it is searched last (PostgreSQL's advice for SECURITY DEFINER functions).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("orgs", "0003_retention_days_bounds")]

    operations = [
        migrations.RunSQL(
            "ALTER FUNCTION productgraph_api_key_lookup(text)"
            " SET search_path = pg_catalog, public, pg_temp",
            "ALTER FUNCTION productgraph_api_key_lookup(text) SET search_path = pg_catalog, public",
        )
    ]
