"""ZLV: withdraw a publication found to contain personal data after it passed the audit."""

from airflow.sdk import DAG, Param, task

from zlv_dwh import airflow_tasks
from zlv_dwh.dag_defaults import DEFAULT_ARGS, START_DATE
from zlv_dwh.settings import DUCKDB_POOL

DOC = """
### Purge a publication (manual only)
For the day a leak is found in a publication that passed the RGPD audit (a complaint, a partner's
report, a detector added since). Trigger with the **run id** of the publication (it is in
`<data>/published/zlv_marts.publication.json`, in the snapshot and export folder names, and in
`ops.rgpd_audit`) and a **reason**. The task removes that publication's snapshot and partner
exports; if it is the file Metabase reads, the last good snapshot before it is put back in its
place (atomically, its exports regenerated), or the published file is removed when none is left.
`ops.publication_purges` records what was removed and what is published now. Same as
`make purge-published RUN=<run id>`.

Then fix the cause (a treatment in `production_tables.yml`, a model, a detector in `pii.yml`)
before the next `zlv_transform` run publishes again.

**Usually takes** a few seconds. **On failure**: "no publication of it" means the run id is wrong
(copy it from `zlv_marts.publication.json` or the snapshot names); any other error leaves the files
as they were: read the log and trigger again.
Every failed task's log ends with a `NEXT STEP:` line: what to check, what to trigger after.
"""

with DAG(
    dag_id="zlv_purge_publication",
    description="remove a leaking publication, put back the last good one",
    doc_md=DOC,
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "retries": 0},
    tags=["zlv", "publish", "rgpd"],
    params={
        "run_id": Param("", type="string", minLength=1, description="run id of the publication to withdraw"),
        "reason": Param("personal data found after publication", type="string", minLength=1),
    },
):

    @task(pool=DUCKDB_POOL, multiple_outputs=False)
    def purge_publication(**context) -> dict:
        """Remove the publication and republish the last good one (zlv_dwh.publish.purge)."""
        return airflow_tasks.purge_publication(context["params"]["run_id"], context["params"]["reason"])

    purge_publication()
