# The two commands of the course (see README.md):
#   make lab    set up .venv (pinned set, regviz editable) and open JupyterLab on notebooks/
#   make test   same set-up if needed, then unit tests + every notebook (nbval, fast mode) + browser test
#   make site   the course website from the saved outputs; make execute: re-run the chapters in full mode
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.regviz-installed
PYTEST_ARGS ?=

.PHONY: lab test unit notebooks browser bench lock clean site execute

$(STAMP): pyproject.toml regviz/__init__.py requirements/constraints.txt
	@echo "== setting up $(VENV) with $(PY) (pinned set in requirements/constraints.txt)"
	@test -n "$(PY)" || { echo "Python 3.10+ not found: install python3.11" >&2; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -e ".[test]" \
		2> >(grep -v "^WARNING: Location .* is ignored" >&2)
	touch $(STAMP)

ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	@bash scripts/ensure-fashion-mnist.sh
	cd notebooks && ../$(BIN)/jupyter lab $(ROOT_FLAG) $(LAB_ARGS)

# Two pytest workers (one per core), whole files per worker (nbval needs --dist loadfile), one torch
# thread each: two threads per process on two busy cores spin against each other (measured 3-7x slower).
TEST_ENV := REGVIZ_FAST=1 OMP_NUM_THREADS=1
XDIST ?= -n 2 --dist loadfile

test: $(STAMP)
	@bash scripts/ensure-chromium.sh
	@bash scripts/ensure-bubblewrap.sh
	@bash scripts/ensure-fashion-mnist.sh
	$(TEST_ENV) $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-cell-timeout=600 \
		-p no:cacheprovider $(XDIST) $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not browser" $(PYTEST_ARGS)

notebooks: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest notebooks --nbval-lax --nbval-cell-timeout=600 $(PYTEST_ARGS)

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

# The course website from the saved notebook outputs (nothing is executed): _build/html
site: $(STAMP)
	$(BIN)/python scripts/site.py

# Re-run every chapter in full mode and save its outputs (how the committed notebooks are made)
execute: $(STAMP)
	@bash scripts/ensure-fashion-mnist.sh
	$(BIN)/python scripts/execute_notebooks.py

lock: $(STAMP)
	(echo "# Exact pins used by 'make lab' and 'make test' (pip install -c requirements/constraints.txt)."; \
	 echo "# Regenerate: make lock   (ranges live in pyproject.toml)"; \
	 $(BIN)/pip freeze --exclude-editable | grep -v '^regviz') > requirements/constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache
