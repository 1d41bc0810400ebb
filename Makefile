# One command each, from a fresh clone with only Python 3:
#   make demo   set up .venv, then run the example DAG end to end against the local simulator
#   make test   set up .venv, then run the whole test suite
#   make docs   build the documentation site into docs/_build/html (warnings are errors)
#   make ui-check  the Airflow UI in headless Chromium: connection form, Test button, a DAG run
#   make test-triggerer  every example DAG run by a real scheduler and triggerer (about 90 s)
#   make bench  the benchmarks of docs/performance.md (about 20 minutes; prints the tables)
#   make reliability  the fault matrix, hostile inputs, property tests and secret audit of docs/reliability.md
#   make lanes  the built wheel on Airflow 2.11, 3.0, 3.1, 3.2 and on 3.3 with Python 3.12/3.13 (docs/compatibility.md);
#               on 3.0 to 3.2 also the event, asset and approval examples on a real deployment
#   make publish-check  build the sdist and wheel, twine check --strict, LICENSE/NOTICE and metadata checks
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: setup demo test lint lock clean docs ui-check screenshots chromium postgresql test-triggerer test-chaos bench reliability lanes lane-locks publish-check
setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip sync --quiet --python $(BIN)/python --compile-bytecode requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --compile-bytecode --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python .ci/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy airflow_provider_sigmamind

# Re-resolve the pinned dependencies after changing pyproject.toml.
lock: $(STAMP)
	$(UV) pip compile --quiet --python-version 3.11 --extra test --extra dev --extra docs --extra ui --extra openlineage \
		-o requirements.lock pyproject.toml

# The documentation site: Sphinx + MyST + autodoc, warnings are errors.
# Its code examples (docs/examples/, a user's own DAG tests) are run too, so they keep working.
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -E -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"
	$(BIN)/python -m pytest -q docs/examples

# The Airflow UI as users see it, in Debian's headless Chromium driven by Playwright (never a
# downloaded browser): API server + simulator on 127.0.0.1, connection form, Test button, a DAG run.
ui-check: $(STAMP) chromium
	UI_CHECK_REQUIRED=1 $(BIN)/python -m pytest -m browser tests/ui

# The same check, saving its screenshots into docs/img for the documentation.
screenshots: $(STAMP) chromium
	UI_CHECK_REQUIRED=1 UI_SCREENSHOT_DIR=docs/img $(BIN)/python -m pytest -m browser tests/ui

# Debian's chromium package, installed when missing (needs root, as in CI).
chromium:
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# api-server + dag-processor + scheduler + triggerer on PostgreSQL: every example DAG run
# against the simulator, all stopped.
test-triggerer: $(STAMP) postgresql
	$(BIN)/python -m pytest -m triggerer tests/test_example_dags_stack.py tests/test_events_stack.py

# The same stack on PostgreSQL (Debian's postgresql package): workers, the triggerer, the scheduler and
# the simulator killed mid-run (tests/chaos; about 4 minutes).
test-chaos: $(STAMP) postgresql
	$(BIN)/python -m pytest -m chaos tests/chaos -v

# Debian's PostgreSQL server binaries, installed when missing (needs root, as in CI); the stack tests
# run a server of their own from them, in a temporary directory (tests/postgres.py).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "installing Debian's postgresql (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks.bench_all

# The figures of docs/reliability.md: every scenario listed, then the summary (reliability figures, secret audit).
reliability: $(STAMP)
	$(BIN)/python -m pytest tests/reliability -v

# The compatibility lanes (docs/compatibility.md), four at a time (about half a lane's time is spent
# waiting on poke intervals, so two cores keep four busy): each lane's output, then one line per
# lane with its result and time.
LANE_JOBS ?= 4
lanes: $(STAMP) postgresql
	bash .ci/lane --all $(LANE_JOBS)

# Re-resolve each lane's lock (after changing pyproject.toml's dependencies).
lane-locks: $(STAMP)
	@for lane in $$(bash .ci/lane --list); do bash .ci/lane --lock $$lane; done

publish-check: $(STAMP)
	bash .ci/publish-check

clean:
	rm -rf $(VENV) .airflow .lanes
