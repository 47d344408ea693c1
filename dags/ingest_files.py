"""ZLV: load the national files (LOCOMVAC, FF) from S3 into the warehouse, one DAG per family."""

from airflow.sdk import DAG, Asset, task

from zlv_dwh import airflow_tasks, ingest_files
from zlv_dwh.dag_defaults import DEFAULT_ARGS, RAW_ASSETS, START_DATE
from zlv_dwh.settings import DUCKDB_POOL

CONFIG = ingest_files.load_config()

for family in CONFIG.families.values():
    doc = f"""
### {family.name.upper()} files -> warehouse (`raw_{family.name}`)
{family.description}

Reads `s3://{CONFIG.bucket}/` (connection `{CONFIG.connection_id}`):
{"".join(f"{chr(10)}- `{ds.key_pattern}` -> `raw_{family.name}.{ds.name}`" for ds in family.datasets)}

Each object is one millésime; its rows replace that millésime only, in one transaction.
**On failure**: the task log and `ops.load_log` name the file and the column that broke the
contract (`include/config/file_families.yml`); the other files of the run are loaded. Fix or
replace the file, then clear the task.
"""
    with DAG(
        dag_id=f"zlv_ingest_{family.name}",
        description=f"{family.name.upper()} files on S3 -> raw_{family.name}",
        doc_md=doc,
        schedule="0 3 * * 1",
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["zlv", "ingest", family.name],
    ):

        @task(pool=DUCKDB_POOL, task_id=f"load_{family.name}", outlets=[Asset(RAW_ASSETS[family.name])])
        def load_family(family_name: str, **context) -> dict:
            """Load every millésime file of the family; a bad file is reported, not half-loaded."""
            return airflow_tasks.ingest_file_family(family_name, context["run_id"])

        load_family(family.name)
