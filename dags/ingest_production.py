"""ZLV: copy the production PostgreSQL tables into the warehouse (one task per declared table)."""

from airflow.sdk import DAG, Asset, task

from zlv_dwh import airflow_tasks, ingest_postgres
from zlv_dwh.dag_defaults import DEFAULT_ARGS, RAW_ASSETS, START_DATE
from zlv_dwh.settings import DUCKDB_POOL

CONFIG = ingest_postgres.load_config()

DOC = f"""
### Production database -> warehouse (`raw_production`)
Copies, through a read-only session, the tables declared in `include/config/production_tables.yml`
(one `load_<table>` task each):

| table | mode | watermark | deletes |
|---|---|---|---|
{ingest_postgres.describe_tables(CONFIG)}

Personal columns are dropped or pseudonymised (keyed hash) before they reach DuckDB. Incremental
tables read only rows changed since the last committed watermark (minus a 10-minute overlap).

**Usually takes** under a minute on demo data, a few minutes on production. **On failure**: open
the failed `load_<table>` task log; the error names the table (and column). A *schema drift* error
(a source column dropped or retyped) needs the dbt models adapted, not a retry. Connection
`{CONFIG.connection_id}` must point at a read-only login. A failed table keeps its previous copy
and watermark; `ops.load_log` has one row per table per run (rows read / inserted / updated /
deleted, watermark from -> to, duration, error).
Every failed task's log ends with a `NEXT STEP:` line: what to check, what to trigger after.
"""

with DAG(
    dag_id="zlv_ingest_production",
    description="Production PostgreSQL -> raw_production (read-only copy)",
    doc_md=DOC,
    schedule="0 2 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["zlv", "ingest", "production"],
):

    @task(pool=DUCKDB_POOL, multiple_outputs=False)
    def load_table(table: str, **context) -> dict:
        """Replace one raw table with a fresh read-only copy."""
        return airflow_tasks.ingest_production_table(table, context["run_id"])

    @task(outlets=[Asset(RAW_ASSETS["production"])], multiple_outputs=False)
    def production_loaded(results: list[dict]) -> dict:
        """Mark the raw zone updated so the transform DAG runs."""
        return {r["table"]: r["rows"] for r in results}

    production_loaded([load_table.override(task_id=f"load_{table}")(table) for table in CONFIG.tables])
