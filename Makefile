# OneCity: the README's two commands are `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Three test processes on two cores: many tests wait on PostgreSQL, Mosquitto or a browser.
TEST_WORKERS ?= 3
# worksteal: a process that runs out of tests takes the not-yet-started half of a busy one's,
# so a few minute-long tests do not leave the others idle at the end.
TEST_DIST ?= worksteal

.PHONY: demo test bench lint install services browser lock clean

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## make demo: install, migrate the embedded SQLite under var/, load Taipei, serve :8000
demo: $(STAMP)
	$(BIN)/onecity demo

## make test: install, start what the tests need, run every test
test: $(STAMP) services browser
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist $(TEST_DIST) --durations=20

services:
	@scripts/services.sh

browser:
	@scripts/browser.sh

bench: $(STAMP) services
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b --quick || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

## make lock: re-resolve dependencies from pyproject.toml into requirements.lock
lock:
	rm -rf /tmp/onecity-lock && $(PYTHON) -m venv /tmp/onecity-lock
	/tmp/onecity-lock/bin/pip install -q --upgrade pip
	/tmp/onecity-lock/bin/pip install -q -e '.[dev]'
	/tmp/onecity-lock/bin/pip freeze --exclude-editable | grep -v '^onecity' > requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
