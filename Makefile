# One command each, from a fresh clone with only Python 3:
#   make demo   set up .venv, then run the example DAG end to end against the local simulator
#   make test   set up .venv, then run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: setup demo test lint lock clean
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
	$(UV) pip compile --quiet --python-version 3.11 --extra test --extra dev -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .airflow
