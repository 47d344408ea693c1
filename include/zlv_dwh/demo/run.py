"""`make demo`: local services, demo data, then every DAG through Airflow, and a summary.

Also the library the end-to-end tests use, so the tests prove exactly what the README promises."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from zlv_dwh import summary
from zlv_dwh.demo import generate, services
from zlv_dwh.settings import REPO_ROOT, Paths, warehouse_backend

DAG_ORDER = ["zlv_refresh_referentials", "zlv_ingest_production", "zlv_ingest_locomvac", "zlv_ingest_ff", "zlv_transform"]
DEMO_DATABASE = "zlv_demo_production"
DEMO_LAKE_CATALOG = "zlv_demo_lake_catalog"
READER_ROLE = "zlv_dwh_reader"  # the demo's production login, SELECT only (README.md, 'The production login')
BIN = Path(sys.executable).parent


class StageFailed(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Stack:
    """Where the pipeline's sources are and where its state goes."""

    state_dir: Path
    production_url: str  # postgresql://user@host:port/db, the admin's: the demo data is written with it
    s3_url: str
    s3_access_key: str
    s3_secret_key: str
    pseudonymisation_key: str
    bucket: str = "zlv-lake"
    smtp: tuple[str, int] | None = None  # (host, port) of the alert mailbox, when there is one
    alert_recipients: str = "data-team@zlv.example"
    # A PostgreSQL URL: the warehouse is then a DuckLake with this catalog and its Parquet in the
    # stack's bucket under warehouse/ (docs/DUCKLAKE.md); None: the DuckDB file.
    lake_catalog: str | None = None
    # The login the pipeline reads production with (create_reader; it holds a password): the
    # loads refuse any login that could write, the admin's included.
    reader_url: str | None = field(default=None, repr=False)

    @property
    def paths(self) -> Paths:
        return Paths(self.state_dir / "data")

    def env(self, dbt_project_dir: Path | None = None) -> dict[str, str]:
        """The environment every Airflow and dbt command of the pipeline runs with."""
        airflow_home = self.state_dir / "airflow"
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "AIRFLOW__COSMOS__CACHE_DIR": str(self.state_dir / "cosmos_cache"),
            "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            "DBT_VERSION_CHECK": "False",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT / "include"), os.environ.get("PYTHONPATH")])),
            "ZLV_DATA_DIR": str(self.paths.data_dir),
            **self.paths.dbt_env(),
            "ZLV_PSEUDONYMISATION_KEY": self.pseudonymisation_key,
            "ZLV_S3_BUCKET": self.bucket,
            "AIRFLOW_CONN_ZLV_PRODUCTION": self.reader_url or self.production_url,
            "AIRFLOW_CONN_ZLV_S3": json.dumps(
                {
                    "conn_type": "aws",
                    "login": self.s3_access_key,
                    "password": self.s3_secret_key,
                    "extra": {"endpoint_url": self.s3_url, "region_name": "us-east-1"},
                }
            ),
        }
        env["ZLV_WAREHOUSE_BACKEND"] = "ducklake" if self.lake_catalog else "duckdb"
        if self.lake_catalog:
            env |= {
                "ZLV_DUCKLAKE_CATALOG": self.lake_catalog,
                "ZLV_DUCKLAKE_DATA_PATH": f"s3://{self.bucket}/warehouse/",
                "ZLV_DUCKLAKE_S3_ENDPOINT_URL": self.s3_url,
                "ZLV_DUCKLAKE_S3_ACCESS_KEY_ID": self.s3_access_key,
                "ZLV_DUCKLAKE_S3_SECRET_ACCESS_KEY": self.s3_secret_key,
            }
        if self.smtp:
            env["AIRFLOW_CONN_ZLV_SMTP"] = json.dumps(
                {
                    "conn_type": "smtp",
                    "host": self.smtp[0],
                    "port": self.smtp[1],
                    "extra": {"from_email": "airflow@zlv.example", "disable_ssl": True, "disable_tls": True, "timeout": 10},
                }
            )
            env["ZLV_ALERT_RECIPIENTS"] = self.alert_recipients
        if dbt_project_dir is not None:
            env["ZLV_DBT_PROJECT_DIR"] = str(dbt_project_dir)
        return env


def _run(cmd: list[str], env: dict, log_file: Path, what: str) -> None:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "w") as out:
        proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    if proc.returncode != 0:
        tail = "".join(log_file.read_text(errors="replace").splitlines(keepends=True)[-25:])
        raise StageFailed(f"{what} failed (exit {proc.returncode}); last lines of {log_file}:\n{tail}")


def generate_sources(stack: Stack, admin_pg_url: str, seed: int, scale: int) -> generate.Demo:
    say(f"Generating demo data (seed {seed}, {scale} dwellings)")
    demo = generate.build(seed=seed, scale=scale)
    db_url = services.recreate_database(admin_pg_url, stack.production_url.rsplit("/", 1)[1])
    generate.write_production(demo, db_url)
    stack.reader_url = create_reader(db_url)
    say(
        f"  production database {stack.production_url.rsplit('/', 1)[1]}: "
        + ", ".join(f"{t} {n}" for t, n in generate.production_row_counts(demo).items())
    )
    say(f"  the pipeline reads it as {READER_ROLE} (SELECT only, read-only sessions)")
    generate.upload_files(demo, stack.s3_url, stack.s3_access_key, stack.s3_secret_key, stack.bucket)
    say(f"  {len(demo.files)} LOCOMVAC / FF files uploaded to s3://{stack.bucket}/lake/cerema/")
    return demo


def create_reader(db_url: str, role: str = READER_ROLE) -> str:
    """The production login of the demo on the database of `db_url` (an admin URL), created or
    updated: SELECT only, read-only sessions, a new random password each run (the server may ask
    for one); returns its URL, which only AIRFLOW_CONN_ZLV_PRODUCTION carries."""
    return services.create_reader(db_url, role, secrets.token_hex(16))


def build_manifest(env: dict, dbt_project_dir: Path, log_dir: Path) -> None:
    """`dbt parse` + fingerprint: the manifest Cosmos renders the DAG from (no database needed)."""
    _run(
        [str(BIN / "python"), "-m", "zlv_dwh.dbt_project", "build"],
        {**env, "ZLV_DBT_PROJECT_DIR": str(dbt_project_dir)},
        log_dir / "dbt_parse.log",
        "dbt parse",
    )


def prepare_airflow(stack: Stack, env: dict) -> None:
    log_dir = stack.state_dir / "logs"
    say("Airflow: migrating the metadata database and applying airflow_settings.yaml")
    _run([str(BIN / "airflow"), "db", "migrate"], env, log_dir / "airflow_db_migrate.log", "airflow db migrate")
    _run(
        [sys.executable, "-m", "zlv_dwh.airflow_settings", str(REPO_ROOT / "airflow_settings.yaml")],
        env,
        log_dir / "airflow_settings.log",
        "applying airflow_settings.yaml",
    )
    say("dbt: parsing the project into target/manifest.json")
    build_manifest(env, Path(env.get("ZLV_DBT_PROJECT_DIR", REPO_ROOT / "include" / "dbt")), log_dir)


def run_dag(stack: Stack, dag_id: str, env: dict) -> None:
    say(f"Airflow: running DAG {dag_id} (airflow dags test)")
    started = time.monotonic()
    _run([str(BIN / "airflow"), "dags", "test", dag_id], env, stack.state_dir / "logs" / f"{dag_id}.log", f"DAG {dag_id}")
    say(f"  {dag_id} succeeded in {time.monotonic() - started:.0f}s")


def task_states(stack: Stack, dag_id: str) -> dict[str, str]:
    """Task id -> state in the latest run of `dag_id`, from the pipeline's Airflow metadata DB."""
    with sqlite3.connect(stack.state_dir / "airflow" / "airflow.db") as con:
        rows = con.execute(
            "select task_id, state from task_instance where dag_id = ? and map_index = -1 "
            "and run_id = (select run_id from dag_run where dag_id = ? order by id desc limit 1)",
            (dag_id, dag_id),
        ).fetchall()
    return {task_id: state for task_id, state in rows}


def xcom_keys(stack: Stack, dag_id: str, task_id: str) -> set[str]:
    """The XCom keys `task_id` pushed in the latest successful run of `dag_id`."""
    with sqlite3.connect(stack.state_dir / "airflow" / "airflow.db") as con:
        rows = con.execute(
            "select key from xcom where dag_id = ? and task_id = ? and run_id = "
            "(select run_id from dag_run where dag_id = ? and state = 'success' order by id desc limit 1)",
            (dag_id, task_id, dag_id),
        ).fetchall()
    return {key for (key,) in rows}


@contextmanager
def _zlv_settings(env: dict) -> Iterator[None]:
    """This process's ZLV_* settings set to the stack's for a while (which backend, where the lake is)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("ZLV_")}
    for name in saved:
        del os.environ[name]
    os.environ.update({k: v for k, v in env.items() if k.startswith("ZLV_")})
    try:
        yield
    finally:
        for name in [k for k in os.environ if k.startswith("ZLV_")]:
            del os.environ[name]
        os.environ.update(saved)


def run_pipeline(stack: Stack, env: dict | None = None) -> dict:
    env = env or stack.env()
    prepare_airflow(stack, env)
    for dag_id in DAG_ORDER:
        run_dag(stack, dag_id, env)
    with _zlv_settings(env):
        return summary.collect(stack.paths)


def run_direct(stack: Stack, run_id: str = "direct") -> dict:
    """The pipeline's steps without Airflow (zlv_dwh.demo.direct), in a process of its own with the
    stack's environment; returns its step timings and summary figures."""
    out = stack.state_dir / "logs" / f"direct_{run_id}.json"
    started = time.monotonic()
    _run(
        [str(BIN / "python"), "-m", "zlv_dwh.demo.direct", run_id, str(out)],
        stack.env(),
        stack.state_dir / "logs" / f"direct_{run_id}.log",
        "the pipeline without Airflow",
    )
    return {**json.loads(out.read_text()), "seconds": time.monotonic() - started}


def demo_key(state_dir: Path) -> str:
    """A random key kept across demo runs, so pseudonymised ids stay stable between runs."""
    key_file = state_dir / "demo_pseudonymisation.key"
    if not key_file.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        os.chmod(key_file, 0o600)
    return key_file.read_text().strip()


def start_demo_sources(state_dir: Path, seed: int, scale: int, started: list[services.Service]) -> tuple[Stack, str]:
    """PostgreSQL and S3 started or reused (appended to `started`, for the caller to stop), demo
    data generated into them; returns the stack and the PostgreSQL admin URL."""
    say("Services: PostgreSQL (the demo 'production' database) and S3 (the national files)")
    pg = services.start_postgres(state_dir, say=say)
    started.append(pg)
    s3 = services.start_s3(say=say)
    started.append(s3)
    access, secret = services.s3_credentials()
    # ZLV_WAREHOUSE_BACKEND=ducklake: the warehouse is a DuckLake with a fresh catalog database
    # on the same PostgreSQL server and its Parquet in the demo bucket.
    lake = services.recreate_database(pg.url, DEMO_LAKE_CATALOG) if warehouse_backend() == "ducklake" else None
    stack = Stack(
        state_dir, pg.url.rsplit("/", 1)[0] + f"/{DEMO_DATABASE}", s3.url, access, secret, demo_key(state_dir), lake_catalog=lake
    )
    generate_sources(stack, pg.url, seed, scale)
    return stack, pg.url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=int(os.environ.get("ZLV_DEMO_SCALE", 2000)), help="dwellings to generate")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("ZLV_STATE_DIR", REPO_ROOT / ".state")))
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    started = time.monotonic()
    started_services: list[services.Service] = []
    try:
        stack, _ = start_demo_sources(state_dir, args.seed, args.scale, started_services)
        figures = run_pipeline(stack)
    except services.PrerequisiteMissing as exc:
        print(f"\nMissing prerequisite: {exc}", file=sys.stderr)
        return 2
    except StageFailed as exc:
        print(f"\nThe demo stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        for service in reversed(started_services):
            service.stop()
    print(f"\n=== ZLV demo done in {time.monotonic() - started:.0f}s ===")
    print(summary.render(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
