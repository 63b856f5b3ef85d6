"""A BRIN index on received_at: the session sweep scans recently received events."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ingestion", "0002_event_table")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX ingestion_event_received_brin ON ingestion_event USING brin (received_at)",
            "DROP INDEX ingestion_event_received_brin",
        )
    ]
