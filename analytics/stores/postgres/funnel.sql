-- A funnel's counts and medians over its branches' chains: one row per bucket
-- (analytics/stores/postgres/funnel.py). Lines starting with two dashes are dropped.
SELECT {outputs}
FROM (
{union}
) chains{grouping}
