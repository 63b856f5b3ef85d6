-- The funnel's per-unit functions (analytics/stores/postgres/funnel.py), created in pg_temp
-- by the store before a funnel runs: no migration, one definition per connection, and
-- nothing for another role to replace (pg_temp is private to the session). PARALLEL SAFE: a
-- parallel worker knows its leader's temporary schema, so the branches of a split funnel
-- call them in the workers (what a worker cannot use is a temporary table, not a function).
--
-- How productgraph_funnel_chain finds the counted chain (docs/reference/analytics.md,
-- "Funnels", gives the definition):
--
-- Group events by timestamp. Think of a chain as a non-decreasing choice of groups
-- g1 <= ... <= gk, the steps sharing a group needing distinct events of it (a bipartite
-- matching: productgraph_funnel_match). Every other rule is a monotone lower bound of an
-- earlier step's group by a later one's: the window (t1 >= tk - window), each exclusion
-- (t_from >= the last exclusion event before t_to). So the valid chains of length k are
-- closed under the pointwise minimum, and their least element, the pointwise-earliest
-- chain, is exactly the lexicographically earliest one.
--
-- It is computed as the least fixed point of those bounds: start every step at the first
-- group, push each step to the first group at or after its predecessor's that can hold it,
-- raise step 1 to the window and from_steps past exclusion events, repeat until nothing
-- moves (or a step runs off the end: no chain of length k). Length k + 1 starts from length
-- k's answer, which is a lower bound of it; the last k that succeeds is the unit's maximal
-- length, its groups the counted chain's timestamps, and e1 the smallest event id of the
-- first group that leaves a matching for the other steps of that group.
CREATE OR REPLACE FUNCTION pg_temp.productgraph_funnel_match(
    masks integer[], first_event integer, last_event integer, skip integer,
    first_step integer, last_step integer
) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
-- Can steps first_step..last_step each take a distinct event among first_event..last_event
-- (never `skip`) whose mask has the step's bit? Augmenting paths, breadth first.
DECLARE
    size integer := last_event - first_event + 1;
    holder integer[] := array_fill(NULL::integer, ARRAY[size]);  -- step holding each event
    taken integer[] := array_fill(NULL::integer, ARRAY[last_step]);  -- event of each step
    came integer[];  -- the step that reached each event in the current search
    queue integer[];
    head integer;
    root integer;
    q integer;
    v integer;
    w integer;
    free_event integer;
BEGIN
    FOR root IN first_step..last_step LOOP
        came := array_fill(NULL::integer, ARRAY[size]);
        queue := ARRAY[root];
        head := 1;
        free_event := NULL;
        WHILE free_event IS NULL AND head <= cardinality(queue) LOOP
            q := queue[head];
            head := head + 1;
            FOR v IN first_event..last_event LOOP
                CONTINUE WHEN v = skip OR masks[v] & (1 << (q - 1)) = 0
                    OR came[v - first_event + 1] IS NOT NULL;
                came[v - first_event + 1] := q;
                IF holder[v - first_event + 1] IS NULL THEN
                    free_event := v;
                    EXIT;
                END IF;
                queue := queue || holder[v - first_event + 1];
            END LOOP;
        END LOOP;
        IF free_event IS NULL THEN
            RETURN false;
        END IF;
        v := free_event;
        LOOP  -- flip the path: each step on it takes the event that reached it
            q := came[v - first_event + 1];
            w := taken[q];
            holder[v - first_event + 1] := q;
            taken[q] := v;
            EXIT WHEN q = root;
            v := w;
        END LOOP;
    END LOOP;
    RETURN true;
END
$fn$;

CREATE OR REPLACE FUNCTION pg_temp.productgraph_funnel_chain(
    ts timestamptz[], masks integer[], xmasks integer[], n_steps integer, win interval,
    x_from integer[], x_to integer[]
) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
-- One unit's events, ordered by (timestamp, event_id): `ts`, `masks` (bit
-- j - 1: matches step j; step 1 only inside the date range), `xmasks` (bit e - 1: matches
-- exclusion e, from step x_from[e] to step x_to[e]). Returns ARRAY[k, o, t1, ..., tk]: the
-- maximal chain length k, the ordinal o of the counted chain's e1 among the step-1 events,
-- and the counted chain's timestamps in microseconds since the epoch (ARRAY[0] when no
-- chain starts in the date range). Timestamps stay timestamptz up to there: an epoch
-- conversion per candidate event cost ~0.5 s of numeric arithmetic on 1.2 million rows.
DECLARE
    reached integer := 0;
    first_ordinal integer := 0;
    result bigint[];
    n integer := cardinality(ts);
    n_x integer := coalesce(cardinality(x_from), 0);
    lo integer[] := '{}';  -- lo[j]: first event of the earliest group step j can be in
    best integer[];
    k integer;
    j integer;
    g integer;
    i integer;
    r integer;
    e integer;
    a integer;
    bit integer;
    last_event integer;
    dirty integer;
    ok boolean;
    moved boolean;
BEGIN
    -- Fast path, no exclusions and no two events at one timestamp before the chain ends:
    -- then the greedy chain (each step at the first event after the previous step's) is
    -- the pointwise-earliest chain and, ignoring the window, a longest one; when it also
    -- fits in the window it is the counted chain, and e1 is the first step-1 event.
    IF n_x = 0 THEN
        k := 1;
        bit := 1;
        FOR i IN 1..n LOOP
            IF i > 1 AND ts[i] = ts[i - 1] THEN
                k := 0;  -- a tie: the general computation below
                EXIT;
            END IF;
            IF masks[i] & bit <> 0 THEN
                lo[k] := i;
                EXIT WHEN k = n_steps;
                k := k + 1;
                bit := bit << 1;
            END IF;
        END LOOP;
        IF k > 0 THEN
            reached := cardinality(lo);
            IF reached = 0 THEN
                RETURN ARRAY[0];
            END IF;
            IF ts[lo[reached]] - ts[lo[1]] <= win THEN
                result := ARRAY[reached, 1];
                FOR j IN 1..reached LOOP
                    result[j + 2] := (EXTRACT(EPOCH FROM ts[lo[j]]) * 1000000)::bigint;
                END LOOP;
                RETURN result;
            END IF;
            reached := 0;
        END IF;
        lo := '{}';
    END IF;
    FOR k IN 1..n_steps LOOP
        lo[k] := CASE WHEN k = 1 THEN 1 ELSE lo[k - 1] END;
        ok := true;
        dirty := k;  -- steps before `dirty` are where the last pass left them
        LOOP
            -- Forward: each step into the first group at or after its predecessor's that
            -- has an event for it (distinct events when steps share the group).
            FOR j IN dirty..k LOOP
                g := CASE WHEN j > 1 AND lo[j - 1] > lo[j] THEN lo[j - 1] ELSE lo[j] END;
                bit := 1 << (j - 1);
                LOOP
                    i := g;
                    WHILE i <= n AND masks[i] & bit = 0 LOOP
                        i := i + 1;
                    END LOOP;
                    IF i > n THEN
                        ok := false;
                        EXIT;
                    END IF;
                    IF ts[i] <> ts[g] THEN
                        g := i;
                        WHILE ts[g - 1] = ts[i] LOOP
                            g := g - 1;
                        END LOOP;
                    END IF;
                    EXIT WHEN j = 1 OR g <> lo[j - 1];
                    r := j - 1;
                    WHILE r > 1 AND lo[r - 1] = g LOOP
                        r := r - 1;
                    END LOOP;
                    last_event := g;
                    WHILE last_event < n AND ts[last_event + 1] = ts[g] LOOP
                        last_event := last_event + 1;
                    END LOOP;
                    EXIT WHEN pg_temp.productgraph_funnel_match(masks, g, last_event, 0, r, j);
                    g := last_event + 1;
                    IF g > n THEN
                        ok := false;
                        EXIT;
                    END IF;
                END LOOP;
                EXIT WHEN NOT ok;
                lo[j] := g;
            END LOOP;
            EXIT WHEN NOT ok;
            moved := false;
            -- Backward: the window raises step 1 (tk - t1 <= win as a duration, as in the
            -- fast path: `ts - win` would count calendar days in the session's time zone) ...
            IF ts[lo[k]] - ts[lo[1]] > win THEN
                i := lo[1];
                WHILE ts[lo[k]] - ts[i] > win LOOP
                    i := i + 1;
                END LOOP;
                lo[1] := i;
                moved := true;
                dirty := 1;
            END IF;
            -- ... and an exclusion event strictly between from_step and to_step raises
            -- from_step to it.
            FOR e IN 1..n_x LOOP
                CONTINUE WHEN x_to[e] > k;
                a := x_from[e];
                bit := 1 << (e - 1);
                i := lo[x_to[e]] - 1;
                WHILE i >= 1 AND ts[i] > ts[lo[a]] AND xmasks[i] & bit = 0 LOOP
                    i := i - 1;
                END LOOP;
                IF i >= 1 AND ts[i] > ts[lo[a]] THEN
                    WHILE ts[i - 1] = ts[i] LOOP
                        i := i - 1;
                    END LOOP;
                    lo[a] := i;
                    moved := true;
                    dirty := least(dirty, a);
                END IF;
            END LOOP;
            EXIT WHEN NOT moved;
        END LOOP;
        EXIT WHEN NOT ok;
        reached := k;
        best := lo;
    END LOOP;
    IF reached = 0 THEN
        RETURN ARRAY[0];
    END IF;
    result := ARRAY[reached, 0];
    FOR j IN 1..reached LOOP
        result[j + 2] := (EXTRACT(EPOCH FROM ts[best[j]]) * 1000000)::bigint;
    END LOOP;
    -- e1: the smallest event id of the first group leaving a matching for the group's
    -- other steps (events of a group are in event_id order).
    g := best[1];
    j := 1;
    WHILE j < reached AND best[j + 1] = g LOOP
        j := j + 1;
    END LOOP;
    last_event := g;
    WHILE last_event < n AND ts[last_event + 1] = ts[g] LOOP
        last_event := last_event + 1;
    END LOOP;
    FOR i IN 1..last_event LOOP
        CONTINUE WHEN masks[i] & 1 = 0;
        first_ordinal := first_ordinal + 1;
        IF i >= g AND (j = 1 OR pg_temp.productgraph_funnel_match(masks, g, last_event, i, 2, j))
        THEN
            result[2] := first_ordinal;
            RETURN result;
        END IF;
    END LOOP;
    RAISE EXCEPTION 'productgraph_funnel_chain: no first event for a reached step 1';
END
$fn$;
