"""Create the events table: range-partitioned by month on the event timestamp, under RLS.

The catalog columns below were written from `ingestion.ddl.column_definitions()`;
tests/ingestion/test_catalog.py fails if the live table and the catalog ever disagree.
"""

from django.db import migrations

from productgraph.tenancy.operations import EnableRowLevelSecurity
from productgraph.tenancy.policies import CURRENT_ORG, enable_rls_sql

CREATE_TABLE = """
CREATE SEQUENCE ingestion_event_id_seq;
CREATE TABLE ingestion_event (
    id bigint NOT NULL DEFAULT nextval('ingestion_event_id_seq'),
    org_id bigint NOT NULL,
    project_id bigint NOT NULL,
    event_id text NOT NULL,
    session_id text NOT NULL,
    event_type text NOT NULL,
    timestamp timestamptz NOT NULL,
    user_id text,
    anonymous_id text,
    event_name text,
    sequence bigint,
    page_path text,
    page_title text,
    page_url text,
    page_referrer text,
    ui_component_name text,
    ui_component_path text,
    ui_component_type text,
    ui_action text,
    ui_element text,
    ui_element_text text,
    ui_viewport text,
    ui_scroll_position double precision,
    ui_state_key text,
    ui_state_before jsonb,
    ui_state_after jsonb,
    ui_state_change_type text,
    journey_key text,
    journey_step_id text,
    journey_step_name text,
    conversion_status text,
    api_method text,
    api_path text,
    api_status_code bigint,
    api_duration_ms bigint,
    error_type text,
    error_message text,
    error_stack text,
    error_component text,
    performance_lcp_ms double precision,
    performance_fid_ms double precision,
    performance_inp_ms double precision,
    performance_cls double precision,
    performance_ttfb_ms double precision,
    snapshot_url text,
    snapshot_viewport text,
    duration_ms bigint,
    metadata jsonb,
    attributes jsonb,
    received_at timestamptz NOT NULL,
    user_agent text
) PARTITION BY RANGE (timestamp);
ALTER SEQUENCE ingestion_event_id_seq OWNED BY ingestion_event.id;
CREATE INDEX ingestion_event_timestamp_brin ON ingestion_event USING brin (timestamp);
CREATE INDEX ingestion_event_session ON ingestion_event (project_id, session_id, timestamp);
CREATE INDEX ingestion_event_type ON ingestion_event (project_id, event_type, timestamp);
CREATE INDEX ingestion_event_user ON ingestion_event (project_id, user_id, timestamp)
    WHERE user_id IS NOT NULL;
CREATE TABLE ingestion_event_default PARTITION OF ingestion_event DEFAULT;
"""

# Runs as the owner so that the runtime role can have a month's partition created on demand
# (it may not create tables itself). Each partition gets the same RLS as its parent: a
# query that names a partition directly does not apply the parent's policies.
_ORG = CURRENT_ORG.replace("'", "''")  # inside a quoted plpgsql literal

CREATE_PARTITION_FUNCTION = f"""
CREATE FUNCTION productgraph_ensure_event_partition(p_month date) RETURNS text
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
    -- (the catalog cache it checked above can be stale), which is success for it.
    BEGIN
        EXECUTE format(
            'CREATE TABLE public.%I PARTITION OF public.ingestion_event FOR VALUES FROM (%L) TO (%L)',
            partition_name,
            first_day::timestamp AT TIME ZONE 'UTC',
            (first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC'
        );
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
        RETURN partition_name;
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
REVOKE ALL ON FUNCTION productgraph_ensure_event_partition(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION productgraph_ensure_event_partition(date) TO productgraph_app;
"""


class Migration(migrations.Migration):
    dependencies = [("ingestion", "0001_initial")]

    operations = [
        EnableRowLevelSecurity("eventkey"),
        migrations.RunSQL(
            CREATE_TABLE
            + ";\n".join(enable_rls_sql("ingestion_event"))
            + ";\n"
            + ";\n".join(enable_rls_sql("ingestion_event_default"))
            + ";\n",
            "DROP TABLE ingestion_event CASCADE;",
        ),
        migrations.RunSQL(
            CREATE_PARTITION_FUNCTION,
            "DROP FUNCTION productgraph_ensure_event_partition(date);",
        ),
    ]
