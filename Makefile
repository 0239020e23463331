# Two commands for a newcomer: `make demo` and `make test`. Everything else is a building block.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# uv is run as a module of the machine's python3, so it is found right after `pip install uv`.
PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen

.PHONY: help install bench bench-compare suite-timing screenshots soak demo test lint typecheck architecture unit integration schemas stack-up stack-down

help:
	@echo "make demo   - install what is missing, start Kafka, PostgreSQL and all services, run the campaign demo (DEMO_EXIT=1 to exit after the summary)"
	@echo "make test   - the whole suite: lint, types, architecture, unit, contract, integration (real Kafka + PostgreSQL)"

install:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --frozen --quiet

bench: install
	@$(RUN) python -m bench.run $(BENCH_ARGS)

# Before and after a change, back to back: make bench-compare BEFORE=<commit> [TITLE="..."]
bench-compare: install
	@UV="$(UV)" $(RUN) python -m bench.compare --before $(BEFORE) --title "$(TITLE)" $(BENCH_ARGS)

# How long `make test` takes as CI runs it (a fresh clone of HEAD); appends to
# docs/performance/suite-duration.md. SUITE_ARGS=--keep keeps the clone.
suite-timing: install
	@$(RUN) python -m bench.suite $(SUITE_ARGS)

soak: install
	@$(RUN) python -m tests.fault.soak $(SOAK_ARGS)

demo: install
	@$(RUN) python -m deploy.local.demo $(if $(DEMO_EXIT),--exit-after-summary,)

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: install
	$(RUN) mypy

architecture: install
	$(RUN) lint-imports

schemas: install
	$(RUN) python -m schemas.generate
	$(RUN) python -m deploy.openapi

test: lint typecheck architecture
	$(RUN) python -m schemas.generate --check
	$(RUN) pytest

# Refresh the committed screenshots of the workspace pages (docs/workspace/, docs/workspace.md).
screenshots: install
	WUYE_SCREENSHOT_DIR=$(CURDIR)/docs/workspace $(RUN) pytest tests/browser -q

stack-up: install
	$(RUN) python -m deploy.local.stack up

stack-down: install
	$(RUN) python -m deploy.local.stack down
