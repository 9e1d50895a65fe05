# The front door: `make run` and `make test`. Needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: run test install install-dev lint fmt migrations-check bench backup ci clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: set up, migrate, seed the demo clinic (first time), start web + worker + beat
# Links in mail and feeds name the port the app runs on (`PORT=8001 make run`), unless SITE_URL is set.
run: $(VENV)/.installed
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} SITE_URL=$${SITE_URL:-http://127.0.0.1:$${PORT:-8000}} $(BIN)/python manage.py seed_demo --quiet-if-present > /dev/null
	DEBUG=$${DEBUG:-true} SITE_URL=$${SITE_URL:-http://127.0.0.1:$${PORT:-8000}} exec $(BIN)/python manage.py runstack

## backup: the database and the uploaded files into var/backups/clinic-backup-<time>/, the 14 newest kept
backup: $(VENV)/.installed
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py backup

## test: install what the tests need and run the whole suite
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

fmt: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrations-check: $(VENV)/.installed-dev
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=true $(BIN)/python manage.py check

## bench: the benchmarks of docs/benchmarks.md (needs PostgreSQL at 127.0.0.1:5432)
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.setup_data
	$(BIN)/python -m bench.availability
	$(BIN)/python -m bench.booking_throughput
	BENCH_REDIS_URL=$${BENCH_REDIS_URL:-redis://127.0.0.1:6379/9} $(BIN)/python -m bench.outbox_delivery
	$(BIN)/python -m bench.rfc1047_window
	$(BIN)/python -m bench.duplicates
	$(BIN)/python -m bench.keeping
	$(BIN)/python -m bench.client_import
	$(BIN)/python -m bench.visit_import

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) var/test
