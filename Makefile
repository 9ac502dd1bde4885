# Two commands matter: `make run` starts the embedded service, `make test` runs
# every check. Both create the virtual environment on first use.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint services bench-patch

run: $(STAMP)
	$(BIN)/asyncorders serve

test: $(STAMP) services lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The PATCH benchmark against the HTTP floor, Prism and WireMock (minutes; see
# bench/patch.py). `make bench-patch ARGS=--quick` for a short smoke run.
bench-patch: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/patch.py $(ARGS)

services:
	@bash scripts/services-up

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)
