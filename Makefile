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
# With checks off, cards also link the TRD and course view through `make fhir-server`'s SMART
# test double, unless KETAMINE_CDS_SMART_CLIENTS says otherwise (README, The TRD and course view).
DEMO_FHIR := http://127.0.0.1:8081
DEMO_SMART_CLIENTS := {"$(DEMO_FHIR)": {"client_id": "ketamine-cds-demo"}}
run: $(VENV)/.installed
	@export KETAMINE_CDS_AUTH_ENABLED=$${KETAMINE_CDS_AUTH_ENABLED:-false}; \
	if [ "$$KETAMINE_CDS_AUTH_ENABLED" = false ] && [ -z "$${KETAMINE_CDS_SMART_CLIENTS+set}" ]; then \
		export KETAMINE_CDS_SMART_CLIENTS='$(DEMO_SMART_CLIENTS)'; \
		export KETAMINE_CDS_FHIR_SERVER_ALLOWLIST=$${KETAMINE_CDS_FHIR_SERVER_ALLOWLIST:-$(DEMO_FHIR)}; \
		export KETAMINE_CDS_FHIR_ALLOW_HTTP_LOOPBACK=$${KETAMINE_CDS_FHIR_ALLOW_HTTP_LOOPBACK:-true}; \
	fi; \
	exec $(BIN)/ketamine-cds serve

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest
	$(BIN)/ruff check .
	$(BIN)/mypy

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/ruff format --check .

fhir-server: $(VENV)/.installed
	$(BIN)/ketamine-cds fhir-server --smart

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@touch $@

# Writes BENCHMARKS.md and benchmarks-latency.png (about 10 minutes). Needs wrk; as root on
# Debian it is installed here. `BENCH_ARGS=--quick` for a short trial run.
bench: $(VENV)/.installed-bench
	@command -v wrk > /dev/null || { [ "$$(id -u)" = 0 ] && { apt-get install -y -qq wrk \
		|| { apt-get update -qq && apt-get install -y -qq wrk; }; } > /dev/null; } \
		|| { echo "make bench needs wrk: apt-get install wrk" >&2; exit 1; }
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache *.egg-info
