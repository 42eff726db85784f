# Atalaya: `make run` serves a demo node on SQLite; `make test` runs every check.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export ATALAYA_DATA_DIR ?= ./var
export ATALAYA_DATABASE_URL ?= sqlite:///./var/atalaya.db

.PHONY: run install test lint typecheck test-sqlite test-postgres test-browser messages bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or set PYTHON=..."; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/atalaya db upgrade
	$(BIN)/atalaya demo
	$(BIN)/atalaya serve --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test-sqlite: $(STAMP)
	$(BIN)/pytest --db=sqlite

# PostgreSQL runs when ATALAYA_TEST_POSTGRES_URL is set or pg_ctl is installed;
# ATALAYA_REQUIRE_POSTGRES=1 (set by .ci/run) turns "not available" into a failure.
test-postgres: $(STAMP)
	@if [ -n "$$ATALAYA_TEST_POSTGRES_URL" ] || $(BIN)/python tests/postgres_cluster.py --check; then \
		$(BIN)/pytest --db=postgresql -m "not browser"; \
	elif [ -n "$$ATALAYA_REQUIRE_POSTGRES" ]; then \
		echo "PostgreSQL is required (ATALAYA_REQUIRE_POSTGRES) but pg_ctl was not found"; exit 1; \
	else echo "PostgreSQL not found: skipping the PostgreSQL run"; fi

test: lint typecheck test-sqlite test-postgres

messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ -k ngettext:1,2 --no-location --sort-output \
		-o src/atalaya/web/locale/messages.pot .
	for lang in es pt fr; do \
		$(BIN)/pybabel update --no-fuzzy-matching -i src/atalaya/web/locale/messages.pot \
			-d src/atalaya/web/locale -l $$lang 2>/dev/null || \
		$(BIN)/pybabel init -i src/atalaya/web/locale/messages.pot -d src/atalaya/web/locale -l $$lang; \
	done

bench: $(STAMP)
	$(BIN)/python benchmarks/api_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
