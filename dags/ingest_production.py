"""ZLV: copy the production PostgreSQL tables into the warehouse (one task per declared table)."""

from airflow.sdk import DAG, Asset, task

from zlv_dwh import airflow_tasks, ingest_postgres
from zlv_dwh.dag_defaults import DEFAULT_ARGS, RAW_ASSETS, START_DATE
from zlv_dwh.settings import DUCKDB_POOL

CONFIG = ingest_postgres.load_config()

DOC = f"""
### Production database -> warehouse (`raw_production`)
Copies, read-only, the production tables declared in `include/config/production_tables.yml`:
{", ".join(f"`{t}`" for t in CONFIG.tables)}.
Personal columns are dropped or pseudonymised (keyed hash) before they reach DuckDB.

**Usually takes** under a minute on demo data. **On failure**: open the failed `load_<table>` task
log; the error names the table (and column). Connection `{CONFIG.connection_id}` must point at a
read-only login. The previous copy of a failed table stays in place; re-run the task when fixed.
Each load is recorded in `ops.load_log`.
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

    @task(pool=DUCKDB_POOL)
    def load_table(table: str, **context) -> dict:
        """Replace one raw table with a fresh read-only copy."""
        return airflow_tasks.ingest_production_table(table, context["run_id"])

    @task(outlets=[Asset(RAW_ASSETS["production"])])
    def production_loaded(results: list[dict]) -> dict:
        """Mark the raw zone updated so the transform DAG runs."""
        return {r["table"]: r["rows"] for r in results}

    production_loaded([load_table.override(task_id=f"load_{table}")(table) for table in CONFIG.tables])
