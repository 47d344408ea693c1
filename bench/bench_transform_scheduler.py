"""How long zlv_transform takes under the real scheduler (issue 18, point 7): the producer's build
against the whole run, and how spread out the node tasks' ends are after the build.

Starts the demo sources and Airflow's real components (as `make airflow`, in a scratch state
folder), loads production, triggers zlv_transform and reads the task instances' start and end
times from the REST API. Prints the figures; writes nothing in the repository.

    PYTHONPATH=include .venv/bin/python bench/bench_transform_scheduler.py [--state-dir /tmp/x]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

from zlv_dwh.demo import services
from zlv_dwh.demo.airflow_stack import AirflowStack
from zlv_dwh.demo.run import start_demo_sources


def _t(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, default=None)
    args = parser.parse_args()
    state_dir = (args.state_dir or Path(tempfile.mkdtemp(prefix="zlv-bench-sched-"))).resolve()
    started: list[services.Service] = []
    airflow = None
    try:
        stack, pg_admin_url = start_demo_sources(state_dir, 42, 2000, started)
        metadata = services.recreate_database(pg_admin_url, "zlv_bench_airflow_metadata")
        airflow = AirflowStack(
            stack,
            metadata.replace("postgresql://", "postgresql+psycopg2://", 1),
            extra_env={"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"},
        )
        airflow.prepare()
        airflow.start()
        airflow.wait_ready({"zlv_ingest_production", "zlv_ingest_locomvac", "zlv_ingest_ff", "zlv_transform"})
        for dag_id in ("zlv_ingest_locomvac", "zlv_ingest_ff", "zlv_ingest_production"):
            airflow.unpause(dag_id)
            run = airflow.wait_run(dag_id, airflow.trigger(dag_id), timeout_s=900)
            print(f"{dag_id}: {run['state']}")
        airflow.unpause("zlv_transform")
        run_id = airflow.trigger("zlv_transform")
        run = airflow.wait_run("zlv_transform", run_id, timeout_s=1800)
        tis = airflow.api("GET", f"/api/v2/dags/zlv_transform/dagRuns/{run_id}/taskInstances?limit=200")["task_instances"]
        by_id = {t["task_id"]: t for t in tis}
        producer = by_id["dbt.dbt_producer_watcher"]
        nodes = [t for t in tis if t["task_id"].startswith("dbt.") and t["task_id"] != "dbt.dbt_producer_watcher"]
        ends = sorted(_t(t["end_date"]) for t in nodes if t.get("end_date"))
        build = (_t(producer["end_date"]) - _t(producer["start_date"])).total_seconds()
        total = (_t(run["end_date"]) - _t(run["start_date"])).total_seconds()
        spread = (ends[-1] - _t(producer["end_date"])).total_seconds() if ends else float("nan")
        print(f"zlv_transform run {run['state']}: {total:.1f} s end to end")
        print(f"  producer build (dbt.dbt_producer_watcher): {build:.1f} s")
        print(
            f"  {len(nodes)} node tasks: the last ends {spread:.1f} s after the build "
            f"(first {(ends[0] - _t(producer['end_date'])).total_seconds():.1f} s)"
        )
        for task_id in ("sources_ready", "rgpd_audit", "indicator_drift_gate", "publish", "dbt_docs"):
            t = by_id.get(task_id)
            if t and t.get("end_date"):
                print(f"  {task_id}: {(_t(t['end_date']) - _t(t['start_date'])).total_seconds():.1f} s ({t['state']})")
        return 0 if run["state"] == "success" else 1
    finally:
        if airflow is not None:
            airflow.stop()
        for service in reversed(started):
            service.stop()


if __name__ == "__main__":
    sys.exit(main())
