# Meegaan: `make run` and `make test` are the whole set-up (see README). `make bench` prints the
# benchmark, its last line one JSON object.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app finder
CATALOGS := $(wildcard translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

.PHONY: run test bench audit install translations extract gazetteer chromium lint

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# axe-core and Lighthouse (npm, pinned by package-lock.json) for the browser checks.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(BIN)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@

translations: $(COMPILED)

# A developer's machine: plain http, demo data and accounts (printed by setup). Mail is sent by
# an outbox worker to a mail server of our own on 127.0.0.1:$(SMTP_PORT), which keeps each mail in
# instance/mail/ (read it at /manage/mail); all three stop together.
SMTP_PORT ?= 8025
run: export MEEGAAN_ENV ?= development
run: export SMTP_HOST = 127.0.0.1
run: export SMTP_PORT := $(SMTP_PORT)
run: install translations
	$(FLASK) setup
	trap 'kill $$(jobs -p) 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python scripts/devmail.py --port $(SMTP_PORT) & \
	$(FLASK) outbox-send --watch & \
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(BIN)/ruff check finder tests scripts migrations
	$(BIN)/mypy

test: install translations chromium node_modules/.installed lint
	$(BIN)/pytest

# The benchmark's own process runs as on a developer's machine; the gunicorn it measures is
# started with production settings (finder/httpbench.py).
bench: export MEEGAAN_ENV ?= development
bench: install translations
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || echo "wrk could not be installed: the HTTP part is skipped"
	$(FLASK) bench

# Lighthouse on the family pages served by gunicorn (budgets of DESIGN §8), then pip-audit.
audit: install translations chromium node_modules/.installed
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,audit]'
	$(BIN)/python scripts/audit.py

# Refresh the catalogs from the sources (then translate the new entries in every .po file).
extract: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _l --no-location --sort-output -o translations/messages.pot finder
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching

# Rebuild data/gazetteer.csv from its sources (see data/README.md). Editable (-e) like `install`:
# a plain install would put a copy of finder without data/ in front of the working tree.
gazetteer: install
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,gazetteer]'
	$(BIN)/python scripts/build_gazetteer.py
