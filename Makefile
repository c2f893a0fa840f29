# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test install lint typecheck pytest browser-deps serve migrate clean bench

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make demo: migrate an SQLite database under var/, load demo data, serve on :8000
demo: $(STAMP)
	mkdir -p var
	$(BIN)/regio db upgrade
	$(BIN)/regio demo load
	$(BIN)/regio serve --no-migrate

## make test: lint, type-check and run the whole suite (SQLite; PostgreSQL too when REGIO_TEST_DATABASE_URL is set)
test: $(STAMP) browser-deps
	$(BIN)/ruff check src tests benchmarks migrations
	$(BIN)/ruff format --check src tests benchmarks migrations
	$(BIN)/mypy
	$(BIN)/pytest

browser-deps:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

serve: $(STAMP)
	$(BIN)/regio serve

migrate: $(STAMP)
	$(BIN)/regio db upgrade

bench: $(STAMP)
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
