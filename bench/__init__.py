"""`make bench`: the production server under load, against the ceiling of a raw COPY.

`python -m bench` prepares a dedicated database, starts gunicorn with the production
settings, runs the load generator (`python -m bench.load`, a separate process) for batches
of 1, 100 and 1,000 events and for 100-event batches at half their maximum rate, samples the
workers' memory, measures a raw COPY of the same rows as the owner role, and writes
`.data/bench/results.json` and `docs/performance.md`. See docs/performance.md.
"""
