# One command to run the hub on its embedded defaults, one to run the tests; both set up first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format bench clean setup lock

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)  ## the hub on embedded defaults (local store, outbox, templates) with demo rows
	$(BIN)/hub serve --demo

test: $(STAMP)  ## lint, the import layers (pyproject.toml), then the whole test suite
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: $(STAMP)  ## every benchmark, one table (installs wrk and chromium if missing)
	scripts/system-deps bench
	$(BIN)/python bench/run

lock: $(STAMP)  ## re-pin requirements.lock (what the Dockerfile installs) from pyproject.toml
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.12 \
		--python-platform x86_64-manylinux_2_28 --generate-hashes \
		--index-url https://pypi.org/simple --custom-compile-command 'make lock' -o requirements.lock

clean:
	rm -rf $(VENV) hub-data .pytest_cache .ruff_cache
