# The README's two commands: `make demo` and `make test`. Everything installs into .venv from the
# pinned requirements.txt; all state (warehouse, Airflow home, demo services) lives in .state/.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.9.30

export PYTHONPATH := $(CURDIR)/include
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DBT_VERSION_CHECK := False
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export AIRFLOW__USAGE_DATA_COLLECTION__ENABLED := False

.PHONY: demo test test-fast lint manifest airflow-settings lock venv clean

## demo: install, start (or reuse) PostgreSQL + S3, generate demo data, run every DAG, print a summary
demo: venv
	@$(BIN)/python -m zlv_dwh.demo

## test: the whole test suite (slow end-to-end tests included), as CI runs it
test: venv
	@$(BIN)/python -m pytest

## test-fast: everything but the slow end-to-end tests (the fault ledger reports the slow tests' faults as not run, without failing)
test-fast: venv
	@ZLV_FAULTS_REQUIRED=0 $(BIN)/python -m pytest -m "not slow"

lint: venv
	@$(BIN)/ruff check include dags tests
	@$(BIN)/ruff format --check include dags tests

## manifest: build include/dbt/target/manifest.json, which the DAGs render from
manifest: venv
	@ZLV_WAREHOUSE_PATH=$${ZLV_WAREHOUSE_PATH:-$(CURDIR)/.state/data/warehouse.duckdb} $(BIN)/python -m zlv_dwh.dbt_project build

## airflow: the demo sources + Airflow's real components (API server, scheduler, DAG processor, triggerer); prints the UI address and login; Ctrl-C stops
.PHONY: airflow
airflow: venv
	@$(BIN)/python -m zlv_dwh.demo.airflow_stack

## airflow-settings: apply airflow_settings.yaml (pools, variables) to the Airflow in AIRFLOW_HOME
airflow-settings: venv
	@$(BIN)/python -m zlv_dwh.airflow_settings airflow_settings.yaml

## purge-published: RUN=<run id> [REASON=...] withdraw a publication found to leak: its snapshot and exports go, the last good one is put back (recorded in ops.publication_purges)
.PHONY: purge-published
purge-published: venv
	@test -n "$(RUN)" || { echo "usage: make purge-published RUN=<run id of the publication> [REASON='...']"; exit 2; }
	@$(BIN)/python -m zlv_dwh.publish purge "$(RUN)" --reason "$${REASON:-personal data found after publication}"

## backup: consistent copy of the warehouse (under its write lock) and the published folder into ZLV_BACKUP_DIR (default .state/backups), keeping the last ZLV_BACKUP_KEEP (default 7)
.PHONY: backup restore
backup: venv
	@$(BIN)/python -m zlv_dwh.backup backup

## restore: verify a backup's checksums, then restore it (BACKUP=<folder or name>, default the latest); the replaced warehouse is kept as warehouse.duckdb.before-restore
restore: venv
	@$(BIN)/python -m zlv_dwh.backup restore $(or $(BACKUP),latest)

## lock: re-resolve requirements.in into the fully pinned requirements.txt
lock: venv
	@$(BIN)/uv pip compile requirements.in -o requirements.txt --python-version 3.11 -q --custom-compile-command "make lock"

venv: $(BIN)/.installed

$(BIN)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, found " + sys.version.split()[0] + ": install python3.11 and run make PYTHON=python3.11 ...")'
	@echo "Installing the pinned environment into $(VENV) (first time only)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	@$(BIN)/uv pip install --python $(BIN)/python -q --compile-bytecode -r requirements.txt || $(BIN)/python -m pip install -q -r requirements.txt
	@touch $@

clean:
	rm -rf .state include/dbt/target include/dbt/logs

## bench: PostgreSQL -> DuckDB ingestion benchmark (bench/README.md); e.g. make bench BENCH_ARGS="--rows 20000"
.PHONY: bench
bench: venv
	@$(BIN)/python bench/bench_postgres_ingest.py $(BENCH_ARGS)

## bench-files: LOCOMVAC/FF file ingestion benchmark from S3 (bench/README.md); e.g. make bench-files BENCH_ARGS="--mb 100"
.PHONY: bench-files
bench-files: venv
	@$(BIN)/python bench/bench_files_ingest.py $(BENCH_ARGS)

## bench-dbt: DAG import time, Cosmos vs plain dbt build, build time at 1x and 10x demo scale (bench/README.md); e.g. make bench-dbt BENCH_ARGS="--scales 300 --repeat 1"
.PHONY: bench-dbt
bench-dbt: venv
	@$(BIN)/python bench/bench_dbt.py $(BENCH_ARGS)
