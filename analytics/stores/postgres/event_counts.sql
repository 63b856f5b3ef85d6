-- Events per time bucket and group, for the max_groups groups with the most events in the
-- range (analytics/stores/postgres/event_counts.py formats in the group column, from the
-- catalog, and the optional event-type filter). Lines starting with two dashes are dropped.
WITH counts AS (
    SELECT date_trunc(%s, timestamp, 'UTC') AS bucket, {group} AS grp,
           count(*) AS n
    FROM ingestion_event
    WHERE org_id = %s AND project_id = %s AND timestamp >= %s AND timestamp < %s{types}
    GROUP BY 1, 2
), top_groups AS (
    SELECT grp FROM counts GROUP BY grp
    ORDER BY sum(n) DESC, grp ASC NULLS FIRST LIMIT %s
)
SELECT c.bucket, c.grp, c.n
FROM counts c JOIN top_groups t ON t.grp IS NOT DISTINCT FROM c.grp
