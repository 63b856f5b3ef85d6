"""A month whose events already sit in the default partition keeps them there.

`productgraph_ensure_event_partition` creates a month's partition on demand. When the default
partition already holds rows of that month (a month's partition dropped by an operator, then
late events of that month arriving through a process that still believed it existed),
CREATE TABLE ... PARTITION OF fails with check_violation, and every later write of that
month failed with it (a 500). Now the month stays in the default partition, the safety net
(`ensure_partitions` lists it there and moves nothing; an operator can, as the owner). Otherwise the function is 0002's:
the new one is 0002's text with that one handler added.
"""

import importlib

from django.db import migrations

_ORIGINAL = importlib.import_module("ingestion.migrations.0002_event_table")
_HANDLER = """
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
        RETURN partition_name;
    END;
"""
_TOLERANT_HANDLER = """
    EXCEPTION
        WHEN duplicate_table OR unique_violation THEN
            RETURN partition_name;
        WHEN check_violation THEN  -- rows of the month are in the default partition already
            RETURN 'ingestion_event_default';
    END;
"""
assert _HANDLER in _ORIGINAL.CREATE_PARTITION_FUNCTION  # noqa: S101 - frozen migration text
ORIGINAL = _ORIGINAL.CREATE_PARTITION_FUNCTION.replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1
)
TOLERANT = ORIGINAL.replace(_HANDLER, _TOLERANT_HANDLER, 1)


class Migration(migrations.Migration):
    dependencies = [("ingestion", "0005_event_type_index_covers_funnels")]

    operations = [migrations.RunSQL(TOLERANT, reverse_sql=ORIGINAL)]
