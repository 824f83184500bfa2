# The two commands: `make run` (the whole product on this machine) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
PORT ?= 8000
FLOWER_PORT ?= 5555
PYTEST_ARGS ?=

.PHONY: run test bench lint check clean chaos install deploy-check

# Local runs default to DEBUG on unless .env decides otherwise.
ifeq ($(shell grep -sE '^[[:space:]]*DEBUG=' .env),)
run: export DEBUG ?= true
endif

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

## run: web (Django admin) + Celery worker + beat + Flower, on SQLite and a filesystem broker
run: $(VENV)/.installed-run
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_knowledge_base
	WEB_PORT=$(PORT) FLOWER_PORT=$(FLOWER_PORT) $(BIN)/python manage.py bootstrap_local
	WEB_PORT=$(PORT) FLOWER_PORT=$(FLOWER_PORT) PATH="$(BIN):$$PATH" \
	  FLOWER_BASIC_AUTH="$${FLOWER_BASIC_AUTH:-$$(cat var/flower-login.txt)}" $(BIN)/honcho start

## test: the suite, against PostgreSQL and Redis on localhost
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## bench: benchmarks against PostgreSQL/Redis; prints numbers and ratios
bench: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/system/bench -m bench -s -q -p no:randomly $(PYTEST_ARGS)

## chaos: fault injection against real processes on a private PostgreSQL cluster and Redis
##        (CHAOS_FAULT_SECONDS=15 shortens the one-minute outages)
chaos: $(VENV)/.installed-dev
	CHAOS=1 $(BIN)/python -m pytest tests/system/chaos -m chaos -s -q -p no:randomly $(PYTEST_ARGS)

## lint: ruff, and the architecture contracts (.importlinter: imports point down the layers)
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

## check: Django's deployment checks with production-like settings (the web preflight included:
##        static files are collected and a throwaway SQLite database migrated under var/check/)
check: $(VENV)/.installed-run
	mkdir -p var/check
	export DEBUG=false SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  ALLOWED_HOSTS=example.com DATABASE_URL=sqlite:///$(abspath var/check/db.sqlite3) \
	  STATIC_ROOT=$(abspath var/check/static) && \
	  $(BIN)/python manage.py migrate --noinput -v0 && \
	  $(BIN)/python manage.py collectstatic --noinput -v0 && \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING

## install: .venv with the pinned requirements (a plain server: README, "Plain server (no Docker)")
install: $(VENV)/.installed-run

## deploy-check: on the server, with its .env: settings, database, broker, Wappi, Gemini, static
##               files, exactly one beat, workers, backups; non-zero exit when something is wrong
deploy-check: $(VENV)/.installed-run
	$(BIN)/python manage.py deploy_check $(DEPLOY_CHECK_ARGS)

clean:
	rm -rf $(VENV) var staticfiles
