"""ZLV: load the national files (LOCOMVAC, FF) from S3 into the warehouse, one DAG per family."""

import datetime as dt

from airflow.sdk import DAG, Asset, get_current_context, task

from zlv_dwh import airflow_tasks, ingest_files
from zlv_dwh.dag_defaults import DEFAULT_ARGS, RAW_ASSETS, START_DATE
from zlv_dwh.settings import DUCKDB_POOL

CONFIG = ingest_files.load_config()

for family in CONFIG.families.values():
    doc = f"""
### {family.name.upper()} files -> warehouse (`raw_{family.name}`)
{family.description}

Reads `s3://{CONFIG.bucket}/` (connection `{CONFIG.connection_id}`):
{"".join(f"{chr(10)}- `{ds.key_pattern}` ({ds.format}, {ds.encoding}, {ds.compression}) -> `raw_{family.name}.{ds.name}`" for ds in family.datasets)}

**Usually takes** under a minute on demo data; a national millésime (a few GB) 5-15 minutes, and
nothing when no object changed (ETags). `list_objects` lists the objects; `load_object` runs once per object (the map index shows its key):
an object whose ETag is already in `ops.file_manifest` is skipped, a new or replaced one replaces the
rows it feeds in one transaction. `finish` marks objects gone from storage and reports the run.

Columns are read **by name** (any order; columns not in the contract are not read and are listed in
`ops.file_manifest.columns_ignored`); the encoding and the compression are read from the bytes (a
mismatch with the declaration is reported in `ops.file_manifest.reason`); lines repeating the key
follow the dataset's `on_duplicate_key` (LOVAC: one line per dwelling kept, as ZLV does, with the
count and examples in the reason).

**On failure**: a file that breaks its contract (a declared column missing, types, an undecodable
byte, an unsupported archive such as 7z, truncated gzip, too many malformed lines, duplicate keys
when the dataset quarantines them) is *quarantined*: `finish` fails and names the file, the column,
the physical line, what was expected and what was found (also in `ops.file_manifest.reason` and
`ops.load_log`); the other files are loaded. Fix or replace the file in the bucket, then trigger this
DAG again. A `load_object` that fails on storage or the warehouse (unreachable, disk full) is
retried on its own; `finish` still runs and reports every object. A failed `list_objects` means
the storage is unreachable or refused the credentials (it fails within about a minute): check the
`zlv_s3` connection (Admin > Connections), then trigger this DAG again. Every failed task's log ends
with a `NEXT STEP:` line saying what to check and what to trigger.
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
        # Storage unreachable: fails within about a minute (5 s connection attempts, one retry)
        @task(task_id="list_objects", retries=1, retry_delay=dt.timedelta(seconds=30), retry_exponential_backoff=False)
        def list_objects(family_name: str) -> list[dict]:
            """The family's objects in the bucket (no warehouse access)."""
            return airflow_tasks.list_file_objects(family_name)

        @task(task_id="load_object", pool=DUCKDB_POOL, map_index_template="{{ object_key }}", multiple_outputs=False)
        def load_object(ref: dict) -> dict:
            """Load one object unless its ETag is already loaded; quarantine it if it breaks the contract."""
            context = get_current_context()
            context["object_key"] = ref["key"]
            return airflow_tasks.load_file_object(ref, context["run_id"])

        @task(task_id="finish", pool=DUCKDB_POOL, retries=0, trigger_rule="all_done", outlets=[Asset(RAW_ASSETS[family.name])])
        def finish(family_name: str, refs: list[dict], outcomes: list[dict]) -> str:
            """Report every object (loaded / unchanged / quarantined / failed / vanished); fail on a quarantine or a failure."""
            return airflow_tasks.finish_file_family(family_name, refs, list(outcomes or []), get_current_context()["run_id"])

        listed = list_objects(family.name)
        finish(family.name, listed, load_object.expand(ref=listed))
