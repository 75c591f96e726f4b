# tradegraph: the two commands of the README's quick start, and the steps behind them.
#
#   make demo   set everything up, then run the main job end to end on the local Neo4j
#   make test   set everything up, then run the whole test suite against a real Neo4j
#   make lint   ruff check, ruff format --check and mypy (CI runs it before the tests)
#   make format apply ruff's formatting and safe fixes to the whole tree
#   make benchmarks-readme  render benchmarks/README.md from benchmarks/results/*.json
#
# The virtual environment lives outside the clone (PyTorch from PyPI is a CUDA build of
# several GB), so every clone on the machine and every CI run reuses it. Override with
# `make VENV=/path/to/venv ...`. Neo4j's jars are cached in ~/.cache/tradegraph/neo4j.

PYTHON ?= python3
VENV ?= $(HOME)/.cache/tradegraph/venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tradegraph-deps-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: setup demo test lint format neo4j-start neo4j-stop benchmarks-readme

setup: $(STAMP)
	@$(BIN)/pip install --quiet --no-deps --no-build-isolation -e . >/dev/null

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing tradegraph's dependencies into $(VENV) (the first time takes a few minutes)..."
	$(BIN)/pip install --quiet --upgrade pip setuptools
	$(BIN)/pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.tradegraph-deps-*
	@touch $@

demo: setup
	$(BIN)/tradegraph demo

test: setup
	$(BIN)/python -m pytest -m "not gpu" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

neo4j-start: setup
	$(BIN)/tradegraph neo4j start

neo4j-stop: setup
	$(BIN)/tradegraph neo4j stop

benchmarks-readme: setup
	$(BIN)/python benchmarks/render.py
