# The two commands a newcomer needs: `make demo` and `make test`. Both build their own venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp

.PHONY: demo test lint bench install clean browser
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

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

# The HTML report test renders in a real headless Chromium (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "== installing chromium (Debian package) for the HTML report test"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

test: lint browser
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	@echo "== meltano install (local plugins, pip_url -e .)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/meltano install
	@echo "== meltano run tap-salesforce-temporal target-events (embedded sandbox org)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/meltano run tap-salesforce-temporal target-events
	@echo "== what landed"
	$(BIN)/python -m target_events.summary output
	$(BIN)/target-events report output --format html --output output/report.html
	@echo "== decision report: output/report.html (also: $(BIN)/target-events report output)"

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) output .meltano
