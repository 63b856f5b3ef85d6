"""Analytics: backend-neutral query objects (`queries/`) and the stores that run them
(`stores/`). See `analytics/README.md`."""
