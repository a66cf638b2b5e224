# The two commands a newcomer needs: `make demo` and `make test`. Both build their own venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp

.PHONY: demo test lint bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check tap_salesforce_temporal target_events tests bench tools
	$(BIN)/ruff format --check tap_salesforce_temporal target_events tests bench tools

test: lint
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	@echo "== meltano install (local plugins, pip_url -e .)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/meltano install
	@echo "== meltano run tap-salesforce-temporal target-events (embedded sandbox org)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/meltano run tap-salesforce-temporal target-events
	@echo "== what landed"
	$(BIN)/python -m target_events.summary output

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) output .meltano
