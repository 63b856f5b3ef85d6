"""The partition function (SECURITY DEFINER) searches the temporary schema last.

As orgs 0004 does for the key lookup: without `pg_temp` in its `search_path`, the caller's
temporary schema is searched first for names (its declared types among them); listed last,
it is searched last.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ingestion", "0006_partition_function_tolerates_default_rows")]

    operations = [
        migrations.RunSQL(
            "ALTER FUNCTION productgraph_ensure_event_partition(date)"
            " SET search_path = pg_catalog, public, pg_temp",
            "ALTER FUNCTION productgraph_ensure_event_partition(date)"
            " SET search_path = pg_catalog, public",
        )
    ]
