# Two commands: `make run` serves the service, `make test` runs the whole suite.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export KETAMINE_CDS_DATA_DIR ?= $(CURDIR)/data

.PHONY: run test lint bench fhir-server install clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

# Local development only: no EHR signs tokens for localhost, so `make run` turns JWT checks off
# (the service logs a warning). Deployments leave KETAMINE_CDS_AUTH_ENABLED at its default, true.
run: $(VENV)/.installed
	KETAMINE_CDS_AUTH_ENABLED=$${KETAMINE_CDS_AUTH_ENABLED:-false} $(BIN)/ketamine-cds serve

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest
	$(BIN)/ruff check .
	$(BIN)/mypy

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/ruff format --check .

fhir-server: $(VENV)/.installed
	$(BIN)/ketamine-cds fhir-server

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_hooks.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache *.egg-info
