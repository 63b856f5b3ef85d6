-- One branch of a funnel (analytics/stores/postgres/funnel.py formats the lists in): the
-- candidate events of its units, aggregated per unit into arrays ordered by
-- (timestamp, event_id), then one chain per unit. Only code and catalog column names are
-- formatted in; every value is a parameter. Lines starting with two dashes are dropped.
SELECT {per_unit}
FROM (
    SELECT {aggregates}
    FROM (
        SELECT {columns}
        FROM ingestion_event e
        WHERE {where}
    ) candidates
    GROUP BY unit
    HAVING bit_or(mask) & 1 <> 0
) units{barrier}
