# The two commands a newcomer needs: `make demo` and `make test`. Both build their own venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp

.PHONY: demo demo-scale test test-busy soak lint bench install clean system-tools
# apt only when it cannot ask for a password: as root, or with password-free sudo. Otherwise the
# tests needing a missing tool are skipped with the reason (and fail under CI=true).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)
APT_OK := $(shell command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; } && echo yes)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev,flows]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check tap_salesforce_temporal target_events synthetic_org tests bench tools flows
	$(BIN)/ruff format --check tap_salesforce_temporal target_events synthetic_org tests bench tools flows
	$(BIN)/mypy tap_salesforce_temporal synthetic_org target_events flows

# Programs some tests need, found where they are (tests/system_tools.py looks the same way):
# Chromium renders the HTML report; PostgreSQL's server runs the target-postgres end-to-end test.
HAVE_BROWSER := command -v chromium || command -v chromium-browser || command -v google-chrome || command -v google-chrome-stable
HAVE_POSTGRES := command -v initdb || ls /usr/lib/postgresql/*/bin/initdb
system-tools:
	@missing=""; \
	{ $(HAVE_BROWSER); } >/dev/null 2>&1 || missing="$$missing chromium"; \
	{ $(HAVE_POSTGRES); } >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$(APT_OK)" = yes ]; then \
		echo "== installing$$missing (Debian packages) for the tests that need them"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null \
			|| echo "== apt-get install$$missing failed: the tests needing it will be skipped"; \
	else \
		echo "== not installed:$$missing (no apt, or sudo would ask a password): the tests needing it will be skipped"; \
	fi

# PyAirbyte pins conflict with this project's (pyarrow, duckdb): it gets its own venv, built once
# and reused; the Airbyte source test drives our source executable from it.
AIRBYTE_VENV := .venv-airbyte
$(AIRBYTE_VENV)/.stamp:
	$(PYTHON) -m venv $(AIRBYTE_VENV)
	$(AIRBYTE_VENV)/bin/python -m pip install --quiet "airbyte~=0.71"
	touch $@

# Four workers, a test file each at a time: most tests wait on HTTP, subprocesses and the org's
# emulated latency, so on 2 cores the suite takes ~5.5 min instead of ~12 (measured 2026-11-30).
PYTEST := $(BIN)/python -m pytest -q -n 4 --dist loadfile

test: lint system-tools $(AIRBYTE_VENV)/.stamp
	$(PYTEST)

# The whole suite with every core kept busy by a CPU hog beside it, as on a loaded shared machine:
# a test that passes only on an idle one hides a race. Run it before resolving anything.
test-busy: lint system-tools $(AIRBYTE_VENV)/.stamp
	@hogs=""; for i in $$(seq $$(nproc)); do nice -n 5 sh -c 'while :; do :; done' & hogs="$$hogs $$!"; done; \
	$(PYTEST); status=$$?; kill $$hogs; exit $$status

# The generated tests at size, with fresh random inputs: the hostile-input sweep
# (tests/reliability/test_input_sweep.py; every entry point and input file fed SOAK_EXAMPLES broken
# documents each, CI runs 3) and the lake's message-order property test
# (tests/target/test_lake_orders.py; SOAK_ORDER_EXAMPLES generated Singer streams, CI runs fewer).
SOAK_EXAMPLES ?= 200
SOAK_ORDER_EXAMPLES ?= 2000
soak: $(STAMP)
	SWEEP_EXAMPLES=$(SOAK_EXAMPLES) LAKE_ORDER_EXAMPLES=$(SOAK_ORDER_EXAMPLES) \
		$(BIN)/python -m pytest -q -n 2 --timeout 0 \
		tests/reliability/test_input_sweep.py tests/target/test_lake_orders.py

demo: $(STAMP)
	@echo "== meltano install (local plugins, pip_url -e .)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/meltano install tap-salesforce-temporal target-events
	@echo "== meltano run tap-salesforce-temporal target-events (embedded sandbox org)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/meltano run tap-salesforce-temporal target-events
	@echo "== what landed"
	$(BIN)/target-events summary output
	$(BIN)/target-events report output --format html --output output/report.html
	@echo "== decision report: output/report.html (also: $(BIN)/target-events report output)"

# The Prefect flow (flows/scale_out.py) on this machine: 2 synthetic orgs x 4 shards into one
# Delta lake under output/scale (a temporary local Prefect server; no Prefect Cloud needed).
demo-scale: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m flows.demo --shards 4 --output output/scale

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(AIRBYTE_VENV) output .meltano
