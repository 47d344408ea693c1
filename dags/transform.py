"""ZLV: build the dbt models (one Airflow task each), audit the marts for personal data, publish."""

from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, task

from zlv_dwh import airflow_tasks, dbt_rendering
from zlv_dwh.dag_defaults import DEFAULT_ARGS, RAW_ASSETS, START_DATE, TIMEZONE
from zlv_dwh.settings import DUCKDB_POOL

DOC = """
### dbt -> RGPD audit -> publish for Metabase
Runs when any raw family is updated (assets), and daily at 06:00 Europe/Paris as a safety net.
`sources_ready` first: the scheduled 06:00 run is **skipped** (every task grey, not red; the task's
log says why) on a fresh deployment ("skipped: no source loaded yet": trigger the `zlv_ingest_*`
DAGs) and when no load succeeded since the last publication ("nothing new since the last
publication"). A manual or asset-triggered run always builds.
**Usually takes** 1-3 minutes on demo data. The build task first audits the raw production copy
(every column from a declared treatment; emails, phones, birth dates and real people's names in the
values of text and JSON columns): when its log starts with `RgpdAuditFailed` and `RGPD audit FAIL`
lines naming `raw_production.<table>.<column>`, a treatment in `include/config/production_tables.yml`
lets personal data through — fix the treatment (the next ingest reloads the table) and trigger
again; dbt does not run until it passes. Then it builds the dbt project `include/dbt/` with one
`dbt build` (task `dbt.dbt_producer_watcher`, which alone holds the DuckDB pool; its log has dbt's
whole output); each model and each model's tests then has its own task showing that node's result
(a failed test fails its model's `.test` task, and what depends on it fails too: dbt skipped it).
These node tasks all follow the build and start and end on the triggerer (no worker): their log
has the node's dbt status and message, within seconds of the build's end. Then:
- `rgpd_audit`: every mart column must carry `meta.rgpd` and none may be personal data; a failure
  stops the run here and **nothing is published** (the previous file stays as it was);
- `indicator_drift_gate`: compares the headline indicators (`include/config/indicators.yml`) with
  the published file; a change beyond tolerance stops the run with a table of old / new / change.
  After checking the figures, approve by triggering again with the param
  `approve_indicator_drift` = true, or add the run id to the variable `zlv_approved_drift_run_ids`
  and clear the task. A first publication passes;
- `publish`: copies the marts into the file Metabase reads, atomically;
- `dbt_docs`: regenerates the dbt documentation (`<data>/dbt_docs/static_index.html`, also under
  Browse > dbt docs (ZLV) in this UI, for logged-in users only).

`source_freshness` runs beside them: `dbt source freshness` against the thresholds declared in the
sources; it fails (and alerts) when a raw table is past its error threshold, without stopping the
models, which build from what is there.

**On failure**: a red dbt task shows the model or test that failed (its log has the node's dbt
event, the producer's log the whole build). After a fix, trigger the DAG again: a new run builds
everything (a cleared producer does not build twice: Cosmos skips it; a cleared node task reads
the same build's result again, it never runs dbt by itself). A
red `rgpd_audit` lists each offending mart and column (table `ops.rgpd_audit`). These need a fix,
not a retry.
Every failed task's log ends with a `NEXT STEP:` line: what to check, what to trigger after.
"""

with DAG(
    dag_id="zlv_transform",
    description="dbt models -> RGPD audit -> publish marts",
    doc_md=DOC,
    # Data-aware: runs when a raw family is updated; and every morning anyway (a safety net if an
    # asset event was missed), before the teams start work.
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 6 * * *", timezone=TIMEZONE),
        assets=(
            Asset(RAW_ASSETS["production"])
            | Asset(RAW_ASSETS["locomvac"])
            | Asset(RAW_ASSETS["ff"])
            | Asset(RAW_ASSETS["referentials"])
        ),
    ),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["zlv", "dbt", "publish"],
    params={
        "approve_indicator_drift": Param(
            False, type="boolean", description="Publish even if headline indicators moved beyond tolerance (after checking them)."
        )
    },
):

    @task.short_circuit(pool=DUCKDB_POOL, retries=0, ignore_downstream_trigger_rules=True)
    def sources_ready(**context) -> bool:
        """Skip the scheduled safety-net run when no source was loaded yet, or nothing since the
        last publication (every task then shows skipped, not red); other runs always build."""
        needed, why = airflow_tasks.transform_needed(str(context["dag_run"].run_type))
        print(why)  # noqa: T201 - the one line a support person reads in this task's log
        return needed

    dbt = dbt_rendering.dbt_task_group("dbt")

    @task(pool=DUCKDB_POOL, retries=0)
    def rgpd_audit(**context) -> str:
        """Fail the run if any mart column is unclassified or personal."""
        return airflow_tasks.run_rgpd_audit(context["run_id"])

    @task(pool=DUCKDB_POOL, retries=0)
    def indicator_drift_gate(**context) -> str:
        """Stop before publishing when headline indicators moved beyond tolerance, unless approved."""
        return airflow_tasks.run_indicator_drift_gate(context["run_id"], dict(context["params"]))

    @task(pool=DUCKDB_POOL, multiple_outputs=False)
    def publish(**context) -> dict:
        """Atomically replace the published marts file Metabase reads."""
        return airflow_tasks.publish_marts(context["run_id"])

    @task(pool=DUCKDB_POOL, retries=0)
    def source_freshness() -> str:
        """How stale each raw table is; fails past a source's error threshold."""
        return airflow_tasks.check_source_freshness()

    @task(pool=DUCKDB_POOL)
    def dbt_docs() -> str:
        """Regenerate the dbt documentation site from the models just built."""
        return airflow_tasks.generate_dbt_docs()

    ready = sources_ready()
    ready >> source_freshness()
    ready >> dbt >> rgpd_audit() >> indicator_drift_gate() >> publish() >> dbt_docs()
