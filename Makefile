# Casework — `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PY := .venv/bin/python
RUN_DIR ?= run
PORT ?= 8000

.PHONY: help
help: ## show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}'

.PHONY: venv
venv: ## create .venv and install the locked dependencies
	@bin/setup

.PHONY: deps
deps: ## install/start PostgreSQL and RabbitMQ (management plugin), create the databases
	@bin/start-deps

.PHONY: run
run: venv deps ## start the whole suite in the background, seed demo data, print how to try it
	@bin/run $(RUN_DIR) $(PORT)

.PHONY: stop
stop: ## stop exactly the processes `make run` started
	@[ -x $(PY) ] && $(PY) -m casekit.launcher stop --run-dir $(RUN_DIR) || true

.PHONY: status
status: ## show which suite processes are running
	@$(PY) -m casekit.launcher status --run-dir $(RUN_DIR)

.PHONY: test
test: venv deps ## the whole suite: lint, unit, integration, end-to-end (bounded fault tier included)
	@bin/tests

.PHONY: test-unit
test-unit: venv ## unit tests only (no broker, no database)
	@.venv/bin/nameko test tests/unit -q -p no:cacheprovider

.PHONY: lint
lint: venv ## ruff and the import rules
	@bin/lint

.PHONY: chaos
chaos: venv deps ## the long fault tier (about an hour; CASEWORK_SOAK_SECONDS shortens the soak); summary in run/chaos
	@bin/chaos

.PHONY: bench
bench: venv deps ## benchmarks: intake through the gateway at 1, 8 and 32 clients
	@$(PY) bench/intake.py

.PHONY: lock
lock: venv ## re-lock requirements.lock from pyproject.toml
	@.venv/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock -q
