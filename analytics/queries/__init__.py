"""Analytics queries: what to compute, validated once, with no SQL and no engine in them."""
