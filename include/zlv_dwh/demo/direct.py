"""The pipeline without Airflow: the core steps the DAGs' tasks call, one after another in one process.

`python -m zlv_dwh.demo.direct RUN_ID OUT.json` under a demo Stack's environment (demo.run.run_direct):
the connections come from the AIRFLOW_CONN_* variables the stack sets, the storage backend from
ZLV_WAREHOUSE_BACKEND. Used to run the pipeline on each backend and time it without Airflow's
per-task overhead."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import psycopg

from zlv_dwh import (
    dbt_commands,
    indicator_drift,
    ingest_files,
    ingest_postgres,
    pii,
    publish,
    referentials,
    rgpd_audit,
    summary,
)
from zlv_dwh.settings import Paths, warehouse_backend
from zlv_dwh.warehouse import connect


def _connections() -> tuple[str, ingest_files.S3Settings]:
    """The production DSN and S3 settings from the stack's AIRFLOW_CONN_* variables."""
    dsn = " ".join(f"{k}={v}" for k, v in psycopg.conninfo.conninfo_to_dict(os.environ["AIRFLOW_CONN_ZLV_PRODUCTION"]).items())
    s3 = json.loads(os.environ["AIRFLOW_CONN_ZLV_S3"])
    extra = s3.get("extra", {})
    return dsn, ingest_files.S3Settings(
        extra.get("endpoint_url"), s3["login"], s3["password"], extra.get("region_name", "us-east-1")
    )


def run(run_id: str) -> dict:
    """Ingest production and files, dbt build, RGPD audit, drift gate, publish; seconds per step."""
    paths, key = Paths.from_env(), pii.key_from_env()
    dsn, s3 = _connections()
    steps: dict[str, float] = {}
    clock = time.monotonic()

    def done(step: str) -> None:
        nonlocal clock
        steps[step] = round(time.monotonic() - clock, 2)
        clock = time.monotonic()

    referentials.refresh(paths.warehouse, paths.download_cache, run_id)
    done("refresh_referentials")
    common = {"warehouse": paths.warehouse, "run_id": run_id, "extension_dir": paths.extension_dir}
    ingest_postgres.ingest_all(ingest_postgres.load_config(), pg_dsn=dsn, key=key, **common)
    done("ingest_production")
    ingest_files.ingest_all(ingest_files.load_config(), s3=s3, hash_key=key, **common)
    done("ingest_files")
    with connect(paths.warehouse) as con:
        raw_audit = rgpd_audit.audit_raw(con, ingest_postgres.load_config(), run_id, key=key)
        rgpd_audit.record(con, raw_audit)
    if raw_audit.verdict != "pass":
        raise RuntimeError(raw_audit.summary())
    done("rgpd_audit_raw")
    manifest = dbt_commands.build_all(paths.warehouse, paths.data_dir / "dbt_build")
    done("dbt_build")
    with connect(paths.warehouse) as con:
        audit = rgpd_audit.audit(con, manifest, run_id, key=key)
        rgpd_audit.record(con, audit)
        drift = indicator_drift.compare(con, paths.published_marts, run_id, approved=False)
        indicator_drift.record(con, drift)
    if audit.verdict != "pass" or drift.verdict == "fail":
        raise RuntimeError(f"{audit.summary()}\n{drift.summary()}")
    done("audit_and_drift_gate")
    publish.publish(paths.warehouse, paths.published_marts, run_id, manifest)
    done("publish")
    # A writer connection: dbt's in-process connection is still open, and DuckDB refuses a
    # read-only one beside it in the same process.
    with connect(paths.warehouse) as con:
        figures = summary.collect(paths, con)
    return {"backend": warehouse_backend(), "steps": steps, "summary": figures}


def main(argv: list[str]) -> int:
    run_id, out = argv
    Path(out).write_text(json.dumps(run(run_id), default=str, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
