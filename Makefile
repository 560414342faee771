# One command runs the portal, one runs the tests; both set up what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The suite runs against real PostgreSQL and Redis (bin/services starts them).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/portal
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test fuzz lint bench venv setup clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

setup: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_runbook
	$(PY) manage.py ensure_login
	$(PY) manage.py seed_runbook --demo

## make run: the portal on http://localhost:8000 with a Celery worker and beat (SQLite + filesystem broker by default)
run: setup
	$(VENV)/bin/honcho start -f Procfile.dev

## make test: lint, the layering contract (.importlinter), Django checks and the whole pytest suite against PostgreSQL, Redis, SMTP and Chromium
test: venv
	bin/services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) manage.py check
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) manage.py makemigrations --check --dry-run
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) REQUIRE_SERVICES=1 $(PY) -m pytest $(PYTEST_ARGS)

## make fuzz: the fuzz tests with many more examples (10,000 webhook bodies; every form, every address)
fuzz: venv
	bin/services
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) REQUIRE_SERVICES=1 HYPOTHESIS_PROFILE=slow $(PY) -m pytest -m fuzz $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

## make bench: a firm's full data set in its own database (portal_bench, loaded once, then reused), gunicorn
## with production settings, every page against a floor, the webhook and the sweeps; prints figures and
## targets and writes bench/results.md and .json (not part of the test suite). BENCH_SCALE=0.01 for a quick
## run; BENCH_ARGS="pages", "webhook", "sweeps" or "load" for a part.
BENCH_SCALE ?= 1.0
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/portal_bench
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/12
bench: venv
	bin/services
	BENCH_SCALE=$(BENCH_SCALE) BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) BENCH_BROKER_URL=$(BENCH_BROKER_URL) \
		$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var staticfiles
