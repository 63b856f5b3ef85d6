"""The funnel's covering index leads with org_id, so the RLS policy is an index condition.

`org_id = NULLIF(current_setting('app.current_org_id', true), '')::bigint` is evaluated once
per row when org_id is only INCLUDEd: a GUC lookup and a text-to-bigint cast for each of the
1.17 million page views a branch of the bench's funnel scans (~130 ms of its ~550 ms scan,
on the 2-core Xeon). As the first key column, the policy's expression is computed once per
scan and matched in the index: bench/funnel.py, 10 million events, `product_to_confirm`
1.03 -> 0.88 s best warm, `landing_to_payment` 1.69 -> 1.54 s. It replaces the index (same
name), so a write updates as many indexes as before.

The new index is built before the old one is dropped: reads go on during the build and
writes wait for it (about 25 s per 10 million events on the 2-core sandbox); the drop and
the rename that follow are instant (docs/operations.md, upgrading).
"""

from django.db import migrations

ORG_FIRST = """
CREATE INDEX ingestion_event_type_covering_new ON ingestion_event
    (org_id, project_id, event_type, timestamp)
    INCLUDE (session_id, user_id, anonymous_id, event_id, page_path);
DROP INDEX ingestion_event_type_covering;
ALTER INDEX ingestion_event_type_covering_new RENAME TO ingestion_event_type_covering;
"""
PROJECT_FIRST = """
CREATE INDEX ingestion_event_type_covering_old ON ingestion_event
    (project_id, event_type, timestamp)
    INCLUDE (org_id, session_id, user_id, anonymous_id, event_id, page_path);
DROP INDEX ingestion_event_type_covering;
ALTER INDEX ingestion_event_type_covering_old RENAME TO ingestion_event_type_covering;
"""


class Migration(migrations.Migration):
    dependencies = [("ingestion", "0007_partition_function_searches_pg_temp_last")]

    operations = [migrations.RunSQL(ORG_FIRST, reverse_sql=PROJECT_FIRST)]
