"""A month whose events already sit in the default partition keeps them there.

`productgraph_ensure_event_partition` creates a month's partition on demand. When the default
partition already holds rows of that month (a month's partition dropped by an operator, then
late events of that month arriving through a process that still believed it existed),
CREATE TABLE ... PARTITION OF fails with check_violation, and every later write of that
month failed with it (a 500). Now the month stays in the default partition, the safety net;
`ensure_partitions` and an operator can move it later. Otherwise the function is 0002's.
"""

import importlib

from django.db import migrations

from productgraph.tenancy.policies import CURRENT_ORG

_ORG = CURRENT_ORG.replace("'", "''")  # inside a quoted plpgsql literal

TOLERANT = f"""
CREATE OR REPLACE FUNCTION productgraph_ensure_event_partition(p_month date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
AS $fn$
DECLARE
    first_day date := date_trunc('month', p_month)::date;
    partition_name text := 'ingestion_event_' || to_char(first_day, 'YYYYMM');
    qualified text := 'public.' || partition_name;
BEGIN
    IF to_regclass(qualified) IS NOT NULL THEN
        RETURN partition_name;
    END IF;
    -- Two transactions may race to create the same month; the loser sees duplicate_table
    -- (the catalog cache it checked above can be stale), which is success for it. Rows of
    -- the month already in the default partition make it check_violation: they stay there.
    BEGIN
        EXECUTE format(
            'CREATE TABLE public.%I PARTITION OF public.ingestion_event FOR VALUES FROM (%L) TO (%L)',
            partition_name,
            first_day::timestamp AT TIME ZONE 'UTC',
            (first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC'
        );
    EXCEPTION
        WHEN duplicate_table OR unique_violation THEN
            RETURN partition_name;
        WHEN check_violation THEN
            RETURN 'ingestion_event_default';
    END;
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', partition_name);
    EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', partition_name);
    EXECUTE format(
        'CREATE POLICY org_isolation ON public.%I AS PERMISSIVE FOR ALL '
        'USING (org_id = {_ORG}) WITH CHECK (org_id = {_ORG})',
        partition_name
    );
    RETURN partition_name;
END
$fn$;
"""  # noqa: S608 - the only value formatted in is the constant policy expression

_ORIGINAL = importlib.import_module("ingestion.migrations.0002_event_table")


class Migration(migrations.Migration):
    dependencies = [("ingestion", "0005_event_type_index_covers_funnels")]

    operations = [
        migrations.RunSQL(
            TOLERANT,
            reverse_sql=_ORIGINAL.CREATE_PARTITION_FUNCTION.replace(
                "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1
            ),
        )
    ]
