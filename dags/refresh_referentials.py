"""ZLV: load the referentials shipped with the dbt project (INSEE COG) into the warehouse."""

from airflow.sdk import DAG, Asset, task

from zlv_dwh import airflow_tasks
from zlv_dwh.dag_defaults import DEFAULT_ARGS, RAW_ASSETS, START_DATE
from zlv_dwh.settings import DUCKDB_POOL

DOC = """
### Referentials -> warehouse (`referential`)
Loads the referentials shipped as dbt seeds in `include/dbt/seeds/`: the INSEE Code officiel
géographique (communes with their EPCI, département and région, millésime 2024), which every
territorial mart is built on. Runs every 1 February (INSEE publishes the new COG in January) and on
demand after a seed file changed; updates the asset that schedules `zlv_transform`.

**Usually takes** under 30 seconds. **On failure**: the log shows dbt's seed error (a malformed
CSV line or a type that does not fit `seeds/_seeds.yml`); fix the CSV and trigger again.
Every failed task's log ends with a `NEXT STEP:` line: what to check, what to trigger after.
"""

with DAG(
    dag_id="zlv_refresh_referentials",
    description="INSEE COG (dbt seeds) -> referential",
    doc_md=DOC,
    schedule="0 4 1 2 *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["zlv", "ingest", "referentials"],
):

    @task(pool=DUCKDB_POOL, outlets=[Asset(RAW_ASSETS["referentials"])])
    def load_referentials() -> list[str]:
        """dbt seed --full-refresh of the referential seeds."""
        return airflow_tasks.refresh_referentials()

    load_referentials()
