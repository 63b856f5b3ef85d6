# ProductGraph — the two commands a user needs are `make run` and `make test`.
# Without DATABASE_URL / REDIS_URL both use the embedded PostgreSQL 16 and Redis (.data/).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8080
export PORT

.PHONY: run test install lint typecheck docs bench soak chaos stop clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "ProductGraph needs Python 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## make run: prepare the database, print the demo keys and a curl, run web + worker + beat.
run: install
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py setup_database
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py seed_demo --port $(PORT)
	@echo "Starting web (http://localhost:$(PORT)), worker and beat — Ctrl-C stops all three."
	rm -rf .data/metrics && mkdir -p .data/metrics
	PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/.data/metrics" PATH="$(CURDIR)/$(BIN):$$PATH" DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/honcho start -f Procfile -p $(PORT)

## make test: lint, docs build and the whole suite against real PostgreSQL and Redis.
test: install lint typecheck docs
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy .

docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir .data/site

## make stop: stop the embedded PostgreSQL and Redis started by run/test.
stop: install
	$(BIN)/python -m productgraph.embedded stop

clean: stop
	rm -rf .data $(VENV)

## make bench: gunicorn (production settings) under load vs a raw COPY, funnels on 10M events,
## session folds and journey refreshes on 100k sessions; docs/performance.md. The two big
## datasets are kept and reused (BENCH_FUNNEL_REUSE=0 / BENCH_JOURNEY_REUSE=0: load them again).
## Every option (of bench, soak and chaos) is in bench/options.py, listed in docs/performance.md.
bench: install
	$(BIN)/python -m bench
	BENCH_FUNNEL_KEEP=$${BENCH_FUNNEL_KEEP:-1} BENCH_FUNNEL_REUSE=$${BENCH_FUNNEL_REUSE:-1} $(BIN)/python -m bench.funnel
	BENCH_JOURNEY_KEEP=$${BENCH_JOURNEY_KEEP:-1} BENCH_JOURNEY_REUSE=$${BENCH_JOURNEY_REUSE:-1} $(BIN)/python -m bench.journeys
	$(BIN)/python -m bench.report

## make soak: 10 minutes at half the max rate with retries: nothing lost, memory flat, sessions caught up.
soak: install
	$(BIN)/python -m bench.soak

## make chaos: PostgreSQL restarted, Redis stopped, a worker killed, a lost response; nothing lost.
chaos: install
	$(BIN)/python -m bench.chaos

## make audit: known vulnerabilities of the installed packages (PyPI's advisory data; needs the
## network, so `make test` does not run it). Fails when a package cannot be audited.
.PHONY: audit
audit: install
	$(BIN)/pip-audit --local --skip-editable --strict --desc on --progress-spinner off
