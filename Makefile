# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test lint install migrate demo worker bench clean frontend

$(INSTALLED): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(INSTALLED)

.env:
	cp .env.example .env

install: $(INSTALLED) .env

# The front-end islands (Vite): npm ci when the lockfile changed, a build when it or a source
# changed. The bundle is built, never committed.
NODE_INSTALLED := node_modules/.installed
MANIFEST := static/dist/manifest.json
FRONTEND_SOURCES := $(shell find customers/frontend segments/frontend campaigns/frontend \
	-type f 2>/dev/null) vite.config.js

$(NODE_INSTALLED): package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_INSTALLED)

$(MANIFEST): $(NODE_INSTALLED) $(FRONTEND_SOURCES)
	npm run build --silent

frontend: $(MANIFEST)

migrate: install
	$(PY) manage.py migrate --noinput

## make run: web + worker + beat on the embedded default (SQLite + filesystem broker)
run: migrate frontend
	$(PY) manage.py bootstrap --demo-customers 2000
	$(PY) manage.py seed_demo_segments
	$(VENV)/bin/honcho start -f Procfile

## make test: the whole suite plus lint, against PostgreSQL and Redis when reachable
test: install frontend
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	bin/check-translations
	npm test --silent
	bin/ensure-chromium
	eval "$$(bin/ensure-services)" && $(PY) manage.py makemigrations --check --dry-run >/dev/null \
	  && $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	bin/check-translations

## make bench: the hot paths against their targets (PostgreSQL + Redis; several minutes)
bench: install
	eval "$$(CI=true bin/ensure-services)" && $(PY) bench/ingest.py && $(PY) bench/import_csv.py \
	  && $(PY) bench/metrics.py && $(PY) bench/segments.py && $(PY) bench/dispatch.py \
	  && $(PY) bench/coupons.py && $(PY) bench/simulate.py

clean:
	rm -rf $(VENV) var staticfiles node_modules static/dist
