"""`make bench`, `make soak`, `make chaos`: see docs/performance.md and docs/reliability.md."""
