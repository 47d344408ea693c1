"""dbt and Cosmos benchmark: how fast the DAGs import, and what running the dbt project through Cosmos costs.

One run measures, each piece in its own child process (bench/childproc.py):
1. the DAG import time: a DagBag of dags/ (and of dags/transform.py alone) filled in a fresh
   interpreter with its own AIRFLOW_HOME, after the dbt manifest is built (`dbt_project.build()`);
2. Cosmos against plain dbt on the same data: the demo generated at a scale, written into a scratch
   production database and a bucket, ingested into a raw DuckDB warehouse with `ingest_table` and
   `ingest_family` (no Airflow); then, on copies of that raw warehouse, one plain `dbt build` (the dbt
   CLI) and the Cosmos DbtTaskGroup of dags/transform.py run by `dag.test()` in a small DAG;
3. the build time at each scale (`--scales`, demo scale and 10x), per layer from run_results.json.

    python bench/bench_dbt.py [--scales 2000,20000] [--repeat 3] [--keep] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

from childproc import (
    REPO,
    RESULTS_DIR,
    HeldChild,
    Runner,
    _fmt,
    child_main,
    hold_until_released,
    machine_info,
    package_versions,
    utc_stamp,
)

DBT_PROJECT = REPO / "include" / "dbt"
DAGS = REPO / "dags"
BIN = Path(sys.executable).parent
SEED = 42
HASH_KEY = b"zlv-bench-dbt-pseudonymisation-key"
DB_MARKER = "zlv benchmark scratch database (bench/bench_dbt.py); dropped after each run"
BENCH_DAG_ID = "zlv_bench_dbt_cosmos"
DAGBAG_TARGET_S = 1.0
RATIO_TARGET = 1.5
LAYERS = ("seeds", "staging", "intermediate", "marts")
# The Cosmos part of dags/transform.py, alone: same configs, same operator and default args.
BENCH_DAG = f'''"""The Cosmos task group of dags/transform.py alone; written by bench/bench_dbt.py."""

from airflow.sdk import DAG

from zlv_dwh import dbt_rendering
from zlv_dwh.dag_defaults import DEFAULT_ARGS, START_DATE

with DAG(
    dag_id="{BENCH_DAG_ID}",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
) as dag:
    dbt_rendering.dbt_task_group("dbt")
'''


# ---------------------------------------------------------------------------------------------
# Children: each writes a JSON result; `seconds` is measured around the work itself.
# ---------------------------------------------------------------------------------------------


def child_versions(p: dict) -> dict:
    return package_versions(("apache-airflow", "astronomer-cosmos", "dbt-core", "dbt-duckdb", "duckdb", "psycopg"))


def child_manifest(p: dict) -> dict:
    """`dbt parse` + fingerprint, as `make manifest` does: the DAGs render from this manifest."""
    from zlv_dwh import dbt_project

    started = time.perf_counter()
    manifest = dbt_project.build(env={"ZLV_WAREHOUSE_PATH": p["parse_warehouse"]})
    seconds = time.perf_counter() - started
    nodes = json.loads(manifest.read_text())["nodes"].values()
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node["resource_type"]] = counts.get(node["resource_type"], 0) + 1
    return {"seconds": seconds, "manifest": str(manifest), "nodes": counts}


def child_dagbag(p: dict) -> dict:
    """Fill a DagBag of p["dag_folder"] in this fresh interpreter (AIRFLOW_HOME from p["env"])."""
    os.environ.update(p["env"])
    started = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    imported = time.perf_counter()
    bag = DagBag(dag_folder=p["dag_folder"])
    filled = time.perf_counter()
    stats = getattr(bag, "dagbag_stats", None) or []
    return {
        "import_airflow_s": imported - started,
        "seconds": filled - imported,
        "dags": {dag_id: len(dag.tasks) for dag_id, dag in sorted(bag.dags.items())},
        "import_errors": {str(k): str(v)[-500:] for k, v in bag.import_errors.items()},
        "files": {Path(str(s.file)).name: s.duration.total_seconds() for s in stats if hasattr(s, "duration")},
    }


def child_services(p: dict) -> dict:
    """Holds the services for the run, as the demo starts them (zlv_dwh.demo.services): PostgreSQL
    reused or started, moto's S3 server started; writes their URLs to p["ready_file"], then waits for
    its standard input to close and stops what it started (unless told `keep`)."""
    from zlv_dwh.demo import services

    pg = services.start_postgres(Path(p["state_dir"]), say=print)
    try:
        s3 = services.start_s3(say=print)
    except Exception:
        pg.stop()
        raise
    access, secret = services.s3_credentials()
    info = {"pg_url": pg.url, "pg_started_here": pg.started_here, "s3_url": s3.url, "s3_started_here": s3.started_here}
    if s3.started_here:  # so that --keep can say which process to stop later
        children = Path(f"/proc/self/task/{os.getpid()}/children").read_text().split()
        info["s3_pid"] = int(children[-1]) if children else None
    command = hold_until_released(p["ready_file"], {**info, "s3_access_key": access, "s3_secret_key": secret})
    if command != "keep":
        s3.stop()
        pg.stop()
    return {**info, "stopped": command != "keep"}


def _scratch_database(admin_url: str, name: str) -> tuple[str, str]:
    """Create the scratch database (re-creating one this benchmark made; never another)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as con:
        row = con.execute("select shobj_description(oid, 'pg_database') from pg_database where datname = %s", [name]).fetchone()
        if row is not None:
            if row[0] != DB_MARKER:
                raise RuntimeError(f"database {name} exists and was not created by this benchmark: not touching it")
            con.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))
        con.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        con.execute(sql.SQL("comment on database {} is {}").format(sql.Identifier(name), sql.Literal(DB_MARKER)))
        version = con.execute("show server_version").fetchone()[0]
    return admin_url.rsplit("/", 1)[0] + f"/{name}", version


def _table_counts(db: Path, schemas: tuple[str, ...]) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name in (select unnest(?)) order by all",
            [list(schemas)],
        ).fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in tables}


def child_prepare(p: dict) -> dict:
    """The raw warehouse at one scale: demo data -> scratch database + bucket -> ingest_table / ingest_family."""
    import uuid

    import psycopg

    from zlv_dwh import ingest_files, ingest_postgres
    from zlv_dwh.demo import generate, run

    out: dict = {}
    started = time.perf_counter()
    demo = generate.build(seed=p["seed"], scale=p["scale"])
    out["generate_s"] = time.perf_counter() - started

    started = time.perf_counter()
    db_url, out["server_version"] = _scratch_database(p["pg_url"], p["database"])
    generate.write_production(demo, db_url)
    generate.upload_files(demo, p["s3_url"], p["s3_access_key"], p["s3_secret_key"], p["bucket"])
    out["write_sources_s"] = time.perf_counter() - started
    out["production_rows"] = generate.production_row_counts(demo)
    out["files"] = len(demo.files)
    out["files_mb"] = sum(len(b) for b in demo.files.values()) / 1e6

    warehouse, ext_dir = Path(p["warehouse"]), Path(p["ext_dir"])
    run_id = f"bench_dbt_{uuid.uuid4().hex[:8]}"
    # The loads refuse a login that could write: read as the demo does, through a SELECT-only login.
    reader_url = run.create_reader(db_url, role="zlv_bench_reader")
    dsn = " ".join(f"{k}={v}" for k, v in psycopg.conninfo.conninfo_to_dict(reader_url).items())
    common = {"warehouse": warehouse, "run_id": run_id, "extension_dir": ext_dir}
    started = time.perf_counter()
    ingest_postgres.ingest_all(ingest_postgres.load_config(), pg_dsn=dsn, key=HASH_KEY, **common)
    out["ingest_tables_s"] = time.perf_counter() - started
    s3 = ingest_files.S3Settings(p["s3_url"], p["s3_access_key"], p["s3_secret_key"])
    started = time.perf_counter()
    reports = ingest_files.ingest_all(ingest_files.load_config(), s3=s3, bucket=p["bucket"], hash_key=HASH_KEY, **common)
    out["families"] = {name: report.summary() for name, report in reports.items()}
    for name, report in reports.items():
        if not report.by_status("loaded"):
            raise RuntimeError(f"no object of family {name} loaded: {report.summary()}")
    out["ingest_files_s"] = time.perf_counter() - started
    out["raw_rows"] = _table_counts(warehouse, ("raw_production", "raw_locomvac", "raw_ff"))
    out["warehouse_mb"] = warehouse.stat().st_size / 1e6
    return out


def child_drop(p: dict) -> dict:
    """Drop the scratch databases (only those this benchmark marked) and empty + delete the buckets."""
    import psycopg
    from psycopg import sql

    from zlv_dwh.ingest_files import S3Settings, s3_client

    out: dict = {"dropped": [], "buckets_deleted": []}
    with psycopg.connect(p["pg_url"], autocommit=True) as con:
        for name in p["databases"]:
            row = con.execute(
                "select shobj_description(oid, 'pg_database') from pg_database where datname = %s", [name]
            ).fetchone()
            if row is not None and row[0] == DB_MARKER:
                con.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))
                out["dropped"].append(name)
    client = s3_client(S3Settings(p["s3_url"], p["s3_access_key"], p["s3_secret_key"]))
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    for bucket in (b for b in p["buckets"] if b in existing):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=bucket)
        out["buckets_deleted"].append(bucket)
    return out


def _layer(node: dict) -> str:
    if node["resource_type"] in ("unit_test", "exposure"):
        return node["resource_type"].replace("_", " ") + "s"
    if node["resource_type"] == "seed":
        return "seeds"
    if node["resource_type"] == "model":
        return node["fqn"][1] if len(node["fqn"]) > 2 else "models"
    return node["resource_type"] + "s"


def child_summarise(p: dict) -> dict:
    """Per-layer dbt timings of a plain build (run_results.json + manifest.json) and the marts' row counts."""
    out: dict = {}
    target = Path(p["target"]) if p.get("target") else None
    if target is not None:
        manifest = json.loads((target / "manifest.json").read_text())
        nodes = {**manifest["nodes"], **manifest.get("unit_tests", {}), **manifest.get("exposures", {})}
        run_results = json.loads((target / "run_results.json").read_text())
        layers: dict[str, dict] = {}
        statuses: dict[str, int] = {}
        slowest = []
        for r in run_results["results"]:
            node = nodes[r["unique_id"]]
            layer = _layer(node)
            if node["resource_type"] == "test":
                attached = nodes.get(node.get("attached_node") or "")
                layer = f"tests of {_layer(attached)}" if attached else "tests (several models)"
            entry = layers.setdefault(layer, {"nodes": 0, "seconds": 0.0})
            entry["nodes"] += 1
            entry["seconds"] += r["execution_time"]
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
            slowest.append((r["execution_time"], r["unique_id"]))
        out["layers"] = layers
        out["statuses"] = statuses
        out["nodes_total"] = len(run_results["results"])
        out["nodes_seconds"] = sum(r["execution_time"] for r in run_results["results"])
        out["dbt_elapsed_s"] = run_results.get("elapsed_time")
        out["slowest"] = [{"node": n, "seconds": s} for s, n in sorted(slowest, reverse=True)[:5]]
    out["marts_rows"] = _table_counts(Path(p["warehouse"]), ("marts",))
    return out


# The steps of a Cosmos local operator's run_command, timed in the Cosmos child (the methods are
# wrapped, not changed): label -> method of cosmos.operators.local.AbstractDbtLocalBase.
COSMOS_STEPS = {
    "run_command": "run_command",
    "clone project": "_clone_project",
    "partial parse copy": "_handle_partial_parse",
    "dbt invocation": "run_dbt_runner",
    "OpenLineage events": "calculate_openlineage_events_completes",
    "assets (inlets/outlets)": "_handle_datasets",
    "partial parse cache update": "_update_partial_parse_cache",
    "post execution": "_handle_post_execution",
}


CLEANUP = "adapters reset + gc.collect()"
XCOM_PUSHES = "producer XCom pushes"


def _time_cosmos_steps() -> dict:
    """Wrap the steps of Cosmos's local operator with timers; returns the totals they fill."""
    import functools

    from cosmos.operators.local import AbstractDbtLocalBase

    totals = {label: {"calls": 0, "seconds": 0.0} for label in COSMOS_STEPS}
    totals["dbt node work"] = {"calls": 0, "seconds": 0.0}

    def timed(label: str, original):
        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                totals[label]["calls"] += 1
                totals[label]["seconds"] += time.perf_counter() - started
            if label == "dbt invocation":  # dbt's own timing of the nodes it ran
                nodes = getattr(getattr(result, "result", None), "results", None) or []
                totals["dbt node work"]["calls"] += len(nodes)
                totals["dbt node work"]["seconds"] += sum(getattr(n, "execution_time", 0.0) or 0.0 for n in nodes)
            return result

        return wrapper

    for label, name in COSMOS_STEPS.items():
        setattr(AbstractDbtLocalBase, name, timed(label, getattr(AbstractDbtLocalBase, name)))
    # After each dbtRunner invocation Cosmos resets dbt's adapters and runs a full gc.collect()
    # (inside the "dbt invocation" step); a module function, looked up when called.
    from cosmos.dbt import runner

    totals[CLEANUP] = {"calls": 0, "seconds": 0.0}
    runner._cleanup_dbt_adapters = timed(CLEANUP, runner._cleanup_dbt_adapters)
    # The producer pushes each node's results to XCom from dbt's event callbacks (inside the
    # invocation): one helper, imported by name into each module that calls it.
    from cosmos.operators import watcher
    from cosmos.operators._watcher import aggregation, base

    totals[XCOM_PUSHES] = {"calls": 0, "seconds": 0.0}
    pusher = timed(XCOM_PUSHES, base.safe_xcom_push)
    for module in (base, aggregation, watcher):
        module.safe_xcom_push = pusher
    return totals


def child_cosmos(p: dict) -> dict:
    """The bench DAG (the Cosmos DbtTaskGroup of dags/transform.py) run by dag.test() in this process."""
    os.environ.update(p["env"])
    import importlib.util

    started = time.perf_counter()
    import airflow  # noqa: F401
    import cosmos  # noqa: F401

    out: dict = {"import_s": time.perf_counter() - started}
    out["steps"] = _time_cosmos_steps()
    started = time.perf_counter()
    spec = importlib.util.spec_from_file_location("zlv_bench_dbt_dag", p["dag_file"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.dag
    out["render_s"] = time.perf_counter() - started
    out["tasks_rendered"] = len(dag.tasks)

    started = time.perf_counter()
    if p.get("profile"):  # --profile-cosmos: cProfile statistics of dag.test(), for a closer look
        import cProfile

        cProfile.runctx("dag.test()", globals(), {"dag": dag}, p["profile"])
    else:
        dag.test()
    out["seconds"] = time.perf_counter() - started

    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.dag_id == dag.dag_id).order_by(DagRun.id.desc()).first()
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == run.run_id).all()
        out["dag_run_state"] = str(run.state)
        out["tasks"] = [
            {
                "task_id": ti.task_id,
                "operator": ti.operator,
                "state": str(ti.state),
                "start": ti.start_date.timestamp() if ti.start_date else None,
                "seconds": ti.duration,
            }
            for ti in sorted(tis, key=lambda t: t.start_date.timestamp() if t.start_date else float("inf"))
        ]
    return out


def child_dbt_invocations(p: dict) -> dict:
    """dbt's fixed cost per invocation, in one process as Cosmos's tasks under dag.test(): the same
    one-model `dbt run` invoked several times through dbtRunner; fixed cost = invocation - the node's time."""
    os.environ["ZLV_WAREHOUSE_PATH"] = p["warehouse"]
    started = time.perf_counter()
    from dbt.cli.main import dbtRunner

    out: dict = {"import_s": time.perf_counter() - started, "runs": []}
    common = ["--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT), "--target-path", p["target"]]
    common += ["--log-path", p["log_path"], "--quiet"]
    for _ in range(p["times"]):
        started = time.perf_counter()
        result = dbtRunner().invoke(["run", "--select", p["model"], *common])
        seconds = time.perf_counter() - started
        if not result.success:
            raise RuntimeError(f"dbt run --select {p['model']} failed: {result.exception}")
        node_s = sum(r.execution_time for r in result.result.results)
        out["runs"].append({"seconds": seconds, "node_s": node_s, "fixed_s": seconds - node_s})
    return out


CHILDREN = {
    f.__name__.removeprefix("child_"): f
    for f in (
        child_versions,
        child_manifest,
        child_dagbag,
        child_services,
        child_prepare,
        child_drop,
        child_summarise,
        child_cosmos,
        child_dbt_invocations,
    )
}


# ---------------------------------------------------------------------------------------------
# Orchestrator (child processes: bench/childproc.py)
# ---------------------------------------------------------------------------------------------


class DbtBenchRunner(Runner):
    def run_cli(self, cmd: list[str], label: str, log: Path, env: dict | None = None) -> tuple[int, float, float]:
        """A program run as the child itself, with extra environment; (exit code, wall seconds, peak RSS MB)."""
        saved = self.env
        self.env = {**saved, **(env or {})}
        try:
            return self.run_command(cmd, label, log)
        finally:
            self.env = saved


def airflow_env(home: Path, dags_folder: Path, workdir: Path) -> dict:
    """A throwaway Airflow: its own home, SQLite metadata DB, dags folder and Cosmos cache; no examples."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(workdir / "cosmos_cache"),
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_VERSION_CHECK": "False",
    }


def other_benchmarks() -> list[str]:
    """Command lines of other benchmarks or test runs now running (they would falsify the figures)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = " ".join(a.decode(errors="replace") for a in args if a)
        if ("bench/bench_" in text and "--child" not in text and "bench_dbt.py" not in text) or " pytest" in text:
            found.append(text[:120])
    return found


def best_median(values: list[float]) -> dict:
    return {"best": min(values), "median": statistics.median(values), "all": values} if values else {}


def measure_dagbag(runner: DbtBenchRunner, workdir: Path, repeat: int) -> dict:
    home = workdir / "airflow_dagbag"
    env = airflow_env(home, DAGS, workdir)
    out: dict = {}
    for key, folder in (("all", DAGS), ("transform", DAGS / "transform.py")):
        runs = [runner.run("dagbag", dag_folder=str(folder), env=env) for _ in range(repeat)]
        ok = [r for r in runs if "error" not in r]
        out[key] = {
            "runs": runs,
            "fill_s": best_median([r["seconds"] for r in ok]),
            "import_airflow_s": best_median([r["import_airflow_s"] for r in ok]),
            "process_s": best_median([r["wall_s"] for r in ok]),
        }
        errors = {k: v for r in ok for k, v in r["import_errors"].items()}
        if errors:
            out[key]["import_errors"] = errors
    return out


def print_dagbag(d: dict) -> None:
    print(f"\n{'DagBag':<28} {'fill best':>9} {'median':>7} {'(import airflow)':>16} {'(whole process)':>15}  dags: tasks")
    for key, label in (("all", "dags/ (all DAG files)"), ("transform", "dags/transform.py alone")):
        r = d.get(key, {})
        if not r.get("fill_s"):
            print(f"{label:<28} FAILED: {r.get('runs', [{}])[0].get('error', '?')[:100]}")
            continue
        dags = ", ".join(f"{k}: {v}" for k, v in r["runs"][-1]["dags"].items())
        print(
            f"{label:<28} {r['fill_s']['best']:9.2f} {r['fill_s']['median']:7.2f} {r['import_airflow_s']['median']:16.2f} "
            f"{r['process_s']['median']:15.2f}  {dags}"
        )
        if r.get("import_errors"):
            print(f"  IMPORT ERRORS: {r['import_errors']}")
    files = d.get("all", {}).get("runs", [{}])[-1].get("files")
    if files:
        print("  per file (last run): " + ", ".join(f"{k} {v:.2f} s" for k, v in files.items()))


def plain_build(runner: DbtBenchRunner, raw: Path, folder: Path) -> dict:
    """`dbt build` of include/dbt (the dbt CLI as the child) on a copy of the raw warehouse."""
    folder.mkdir(parents=True)
    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(raw, warehouse)
    target = folder / "target"
    target.mkdir()
    partial = DBT_PROJECT / "target" / "partial_parse.msgpack"
    if partial.exists():  # the starting point Cosmos has too (it reuses the project's partial parse file)
        shutil.copyfile(partial, target / "partial_parse.msgpack")
    cmd = [str(BIN / "dbt"), "build", "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    cmd += ["--target-path", str(target), "--log-path", str(folder / "logs")]
    env = {"ZLV_WAREHOUSE_PATH": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DBT_VERSION_CHECK": "False"}
    code, wall, rss = runner.run_cli(cmd, "dbt build", folder / "dbt_build.log", env)
    result: dict = {"seconds": wall, "rss_mb": rss, "exit_code": code, "warehouse": str(warehouse), "target": str(target)}
    if code != 0:
        tail = (folder / "dbt_build.log").read_text(errors="replace").strip().splitlines()[-15:]
        print("  dbt build FAILED:\n    " + "\n    ".join(tail), flush=True)
        return {**result, "error": f"dbt build exited {code}", "log_tail": tail}
    summary = runner.run("summarise", target=str(target), warehouse=str(warehouse))
    for key in ("wall_s", "rss_mb"):
        summary.pop(key, None)
    return {**result, **summary}


def cosmos_run(runner: DbtBenchRunner, raw: Path, folder: Path, env: dict, dag_file: Path, profile: str | None = None) -> dict:
    folder.mkdir(parents=True)
    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(raw, warehouse)
    env = {**env, "ZLV_WAREHOUSE_PATH": str(warehouse), "ZLV_DATA_DIR": str(folder)}
    r = runner.run("cosmos", env=env, dag_file=str(dag_file), profile=profile)
    if "error" in r:
        return r
    states: dict[str, int] = {}
    by_operator: dict[str, dict] = {}
    for t in r["tasks"]:
        states[t["state"]] = states.get(t["state"], 0) + 1
        entry = by_operator.setdefault(t["operator"] or "?", {"tasks": 0, "seconds": 0.0})
        entry["tasks"] += 1
        entry["seconds"] += t["seconds"] or 0.0
    r["states"] = states
    r["by_operator"] = by_operator
    r["tasks_ran"] = len(r["tasks"])
    r["tasks_seconds"] = sum(t["seconds"] or 0.0 for t in r["tasks"])
    r["all_succeeded"] = states == {"success": len(r["tasks"])} and r["tasks_ran"] == r["tasks_rendered"]
    summary = runner.run("summarise", warehouse=str(warehouse))
    r["marts_rows"] = summary.get("marts_rows")
    return r


def layer_seconds(build: dict, layer: str) -> float | None:
    entry = build.get("layers", {}).get(layer)
    return entry["seconds"] if entry else None


def print_prepare(scale: int, p: dict) -> None:
    if "error" in p:
        print(f"  prepare FAILED: {p['error']}")
        return
    prod = sum(p["production_rows"].values())
    raw = sum(p["raw_rows"].values())
    print(
        f"  demo generated in {p['generate_s']:.1f} s; production database {prod:,} rows + {p['files']} files "
        f"({p['files_mb']:.1f} MB) written in {p['write_sources_s']:.1f} s; ingested: tables {p['ingest_tables_s']:.1f} s, "
        f"files {p['ingest_files_s']:.1f} s -> raw warehouse {raw:,} rows, {p['warehouse_mb']:.0f} MB",
        flush=True,
    )


def print_builds(scale: int, builds: list[dict]) -> None:
    for i, b in enumerate(builds, 1):
        if "error" in b:
            continue
        layers = "  ".join(f"{k} {v['seconds']:.2f} s ({v['nodes']})" for k, v in sorted(b.get("layers", {}).items()))
        print(
            f"  plain dbt build #{i}: {b['seconds']:.2f} s wall = start-up + parse {b['seconds'] - b['dbt_elapsed_s']:.2f} s "
            f"+ run {b['dbt_elapsed_s']:.2f} s; {b.get('nodes_total')} nodes {b.get('statuses')}, peak RSS {b['rss_mb']:.0f} MB"
            f"\n    per layer (sum of execution_time, nodes): {layers}",
            flush=True,
        )


def explain_overhead(runner: DbtBenchRunner, workdir: Path, plain: dict, cosmos: dict) -> dict:
    """Where Cosmos spends the time beyond dbt's node work: per task, from the timed steps of the
    Cosmos run itself, and dbt's start-up per invocation measured alone (same one-model `dbt run`
    invoked several times through dbtRunner in one process, as Cosmos's tasks under dag.test())."""
    folder = workdir / "dbt_invocations"
    folder.mkdir(exist_ok=True)
    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(plain["warehouse"], warehouse)  # built: the model's upstreams exist
    target = folder / "target"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(plain["target"], target)  # its partial parse file matches this profile
    inv = runner.run(
        "dbt_invocations",
        warehouse=str(warehouse),
        target=str(target),
        log_path=str(folder / "logs"),
        model="stg_production__localities",
        times=4,
    )
    steps = cosmos["steps"]
    n = cosmos["tasks_ran"]
    sec = {label: v["seconds"] for label, v in steps.items()}
    inner = sum(sec[label] for label in COSMOS_STEPS if label not in ("run_command", "dbt invocation"))
    rows = [
        ("Airflow task runtime (state, rendered fields, XCom)", cosmos["tasks_seconds"] - sec["run_command"]),
        ("Cosmos: clone the project into a temp folder", sec["clone project"] + sec["partial parse copy"]),
        (
            "dbt: beyond node work (start-up, parse, event callbacks)",
            sec["dbt invocation"] - sec["dbt node work"] - sec[CLEANUP] - sec.get(XCOM_PUSHES, 0.0),
        ),
        ("dbt: node work (SQL of the models, seeds, tests)", sec["dbt node work"]),
        (f"Cosmos: node results pushed to XCom ({steps.get(XCOM_PUSHES, {}).get('calls', 0)} calls)", sec.get(XCOM_PUSHES, 0.0)),
        ("Cosmos: dbt adapters reset + gc.collect() per invocation", sec[CLEANUP]),
        ("Cosmos: OpenLineage events from the artifacts", sec["OpenLineage events"]),
        ("Cosmos: assets (inlets/outlets) registered", sec["assets (inlets/outlets)"]),
        ("Cosmos: post execution (compiled SQL, rendered fields)", sec["post execution"]),
        ("Cosmos: partial parse cache update", sec["partial parse cache update"]),
        ("Cosmos: the rest of run_command (profile, flags, temp dir)", sec["run_command"] - sec["dbt invocation"] - inner),
        ("dag.test() between tasks (scheduling loop, metadata DB)", cosmos["seconds"] - cosmos["tasks_seconds"]),
    ]
    out: dict = {
        "tasks": n,
        "dbt_invocations": steps["dbt invocation"]["calls"],
        "dag_test_s": cosmos["seconds"],
        "plain_s": plain["seconds"],
        "plain_nodes_s": plain["nodes_seconds"],
        "breakdown": [{"part": label, "seconds": s, "per_task_s": s / n} for label, s in rows],
        "invocations_alone": inv,
    }
    out["per_task_overhead_s"] = (cosmos["seconds"] - sec["dbt node work"]) / n
    if "error" not in inv:
        later = [r["fixed_s"] for r in inv["runs"][1:]] or [inv["runs"][0]["fixed_s"]]
        out["dbt_fixed_alone_s"] = statistics.median(later)
        out["dbt_fixed_alone_first_s"] = inv["runs"][0]["fixed_s"]
    return out


def print_overhead(o: dict) -> None:
    n = o["tasks"]
    print(
        f"\nwhere Cosmos spends the time: {n} tasks, {o.get('dbt_invocations', n)} dbt invocation(s) "
        f"(watcher mode: the producer's one build, then each node task reads its result); dag.test() {o['dag_test_s']:.2f} s"
    )
    print(f"  {'part':<60} {'seconds':>8} {'per task':>9} {'share':>6}")
    for row in o["breakdown"]:
        print(f"  {row['part']:<60} {row['seconds']:8.2f} {row['per_task_s']:9.3f} {row['seconds'] / o['dag_test_s']:6.0%}")
    print(
        f"  => {o['per_task_overhead_s']:.2f} s per task beyond dbt's node work; x {n} tasks = "
        f"{o['per_task_overhead_s'] * n:.0f} s, against a plain dbt build of {o['plain_s']:.1f} s "
        f"(of which node work {o['plain_nodes_s']:.1f} s)"
    )
    if "dbt_fixed_alone_s" in o:
        print(
            f"  dbt alone (dbtRunner, one-model run, warm process, no Cosmos): start-up {o['dbt_fixed_alone_s']:.2f} s "
            f"per invocation (first in the process {o['dbt_fixed_alone_first_s']:.2f} s)"
        )


def main() -> int:  # noqa: C901 (a linear script)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="2000,20000", help="dwellings of the demo data, comma-separated (default 2000,20000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure: DagBag fills, plain builds, Cosmos runs (3)")
    parser.add_argument(
        "--cosmos-scale",
        type=int,
        default=None,
        help="scale of the Cosmos vs plain comparison (default: the first; 0: no Cosmos run)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch databases, the buckets, the services, the working folder"
    )
    parser.add_argument(
        "--profile-cosmos",
        type=Path,
        default=None,
        help="write cProfile statistics of each Cosmos dag.test() to FILE.<run>.prof (slower: not a figure to compare)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="parent of the working folder (default: system temp)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a child is stopped (default 3600)")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "PARAMS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(CHILDREN, *args.child)

    try:
        scales = [int(s) for s in args.scales.split(",") if s.strip()]
    except ValueError:
        parser.error("--scales must be comma-separated integers")
    if not scales or min(scales) < 50 or args.repeat < 1:
        parser.error("--scales must be integers >= 50 and --repeat >= 1")
    cosmos_scale = scales[0] if args.cosmos_scale is None else args.cosmos_scale
    if cosmos_scale and cosmos_scale not in scales:
        scales.insert(0, cosmos_scale)
    stamp = utc_stamp()
    workdir = ((args.workdir or Path(os.environ.get("TMPDIR", "/tmp"))) / f"zlv-bench-dbt-{stamp}-{os.getpid()}").resolve()
    workdir.mkdir(parents=True)
    runner = DbtBenchRunner(Path(__file__), workdir, {}, args.timeout, sys.executable)
    info = machine_info(runner, sys.executable, ())
    report: dict = {"started_utc": stamp, "scales": scales, "cosmos_scale": cosmos_scale, "repeat": args.repeat, "machine": info}
    print(
        f"ZLV dbt/Cosmos benchmark: scales {', '.join(f'{s:,}' for s in scales)} dwellings, repeat {args.repeat}, "
        f"{info['cores']} cores, Airflow {info['apache_airflow']}, Cosmos {info['astronomer_cosmos']}, dbt-core {info['dbt_core']}, "
        f"dbt-duckdb {info['dbt_duckdb']}, DuckDB {info['duckdb']}\nworking folder {workdir}",
        flush=True,
    )
    report["load_average_start"] = os.getloadavg()
    report["others_seen"] = {}

    def note_others(stage: str) -> None:
        others = other_benchmarks()
        if others:
            report["others_seen"][stage] = others
            print(f"WARNING ({stage}): other benchmarks or tests are running, figures are slowed:\n  " + "\n  ".join(others))

    note_others("start")
    services = None
    databases: list[str] = []
    buckets: list[str] = []
    try:
        # 1. The manifest, then the DAG import time.
        print("building the dbt manifest (dbt_project.build) ...", flush=True)
        manifest = runner.run("manifest", parse_warehouse=str(workdir / "parse_only.duckdb"))
        report["manifest"] = manifest
        if "error" in manifest:
            return 1
        print(f"  {manifest['seconds']:.1f} s; nodes: {manifest['nodes']}", flush=True)
        print(f"DagBag fills, {args.repeat} fresh processes each ...", flush=True)
        report["dagbag"] = dagbag = measure_dagbag(runner, workdir, args.repeat)
        print_dagbag(dagbag)
        note_others("after the DagBag fills")

        # 2. and 3. Services, then per scale: the raw warehouse, plain builds, Cosmos at its scale.
        services = HeldChild(runner, "services", {"state_dir": str(workdir / "state")}, timeout_s=90, stop_timeout_s=60)
        s3 = services.info
        report["services"] = {k: v for k, v in s3.items() if not k.endswith(("_key", "_url"))}
        print(
            f"\nservices: PostgreSQL {'started here' if s3['pg_started_here'] else 'reused'}, "
            f"S3 {'moto started here' if s3['s3_started_here'] else 'from ZLV_DEMO_S3_URL'} on {s3['s3_url']}",
            flush=True,
        )
        runner.base.update(
            pg_url=s3["pg_url"], s3_url=s3["s3_url"], s3_access_key=s3["s3_access_key"], s3_secret_key=s3["s3_secret_key"]
        )
        airflow_home = workdir / "airflow_cosmos"
        dags_folder = workdir / "cosmos_dags"
        dags_folder.mkdir()
        dag_file = dags_folder / f"{BENCH_DAG_ID}.py"
        dag_file.write_text(BENCH_DAG)
        cosmos_env = airflow_env(airflow_home, dags_folder, workdir)
        report["per_scale"] = {}
        for scale in scales:
            print(f"\n--- scale {scale:,} dwellings ---", flush=True)
            entry: dict = {}
            report["per_scale"][str(scale)] = entry
            database, bucket = f"zlv_bench_dbt_{scale}", f"zlv-bench-dbt-{scale}"
            databases.append(database)
            buckets.append(bucket)
            raw = workdir / f"raw_{scale}" / "warehouse.duckdb"
            print(f"preparing the raw warehouse (database {database}, bucket {bucket}) ...", flush=True)
            entry["prepare"] = prep = runner.run(
                "prepare",
                scale=scale,
                seed=SEED,
                database=database,
                bucket=bucket,
                warehouse=str(raw),
                ext_dir=str(workdir / "duckdb_extensions"),
            )
            print_prepare(scale, prep)
            if "error" in prep:
                continue
            info.setdefault("postgresql", prep.get("server_version"))
            print(f"plain dbt build x{args.repeat} ...", flush=True)
            builds = [plain_build(runner, raw, workdir / f"plain_{scale}_{i}") for i in range(1, args.repeat + 1)]
            entry["plain"] = builds
            print_builds(scale, builds)
            ok = [b for b in builds if "error" not in b]
            if ok:
                entry["plain_s"] = best_median([b["seconds"] for b in ok])
                for layer in LAYERS:
                    values = [v for v in (layer_seconds(b, layer) for b in ok) if v is not None]
                    if values:
                        entry[f"{layer}_s"] = best_median(values)
                entry["nodes_s"] = best_median([b["nodes_seconds"] for b in ok])
            note_others(f"after the plain builds at {scale}")
            if scale != cosmos_scale or not ok:
                continue
            if not (airflow_home / "airflow.db").exists():
                print("Airflow for Cosmos: airflow db migrate + pools (not timed) ...", flush=True)
                airflow_home.mkdir()
                code, wall, _ = runner.run_cli(
                    [str(BIN / "airflow"), "db", "migrate"], "migrate", workdir / "migrate.log", cosmos_env
                )
                code2, wall2, _ = runner.run_cli(
                    [sys.executable, "-m", "zlv_dwh.airflow_settings", str(REPO / "airflow_settings.yaml")],
                    "airflow settings",
                    workdir / "airflow_settings.log",
                    cosmos_env,
                )
                print(f"  migrated in {wall:.1f} s, pools applied in {wall2:.1f} s", flush=True)
                if code or code2:
                    print(f"  FAILED: see {workdir / 'migrate.log'} and {workdir / 'airflow_settings.log'}")
                    report["cosmos"] = {"error": "airflow db migrate or the pools failed"}
                    continue
            print(f"Cosmos DbtTaskGroup via dag.test() x{args.repeat} ...", flush=True)
            runs = [
                cosmos_run(
                    runner,
                    raw,
                    workdir / f"cosmos_{scale}_{i}",
                    cosmos_env,
                    dag_file,
                    profile=str(args.profile_cosmos.with_suffix(f".{i}.prof").resolve()) if args.profile_cosmos else None,
                )
                for i in range(1, args.repeat + 1)
            ]
            report["cosmos"] = {"scale": scale, "runs": runs}
            note_others("after the Cosmos runs")
            for i, r in enumerate(runs, 1):
                if "error" in r:
                    continue
                same = r.get("marts_rows") == ok[0].get("marts_rows")
                r["same_marts_as_plain"] = same
                print(
                    f"  Cosmos #{i}: dag.test() {r['seconds']:.2f} s; {r['tasks_ran']} tasks of {r['tasks_rendered']} rendered, "
                    f"states {r['states']} ({'all succeeded' if r['all_succeeded'] else 'NOT all succeeded'}); "
                    f"task time {r['tasks_seconds']:.2f} s; render {r['render_s']:.2f} s; marts rows "
                    f"{'same as plain' if same else 'DIFFER from plain'}",
                    flush=True,
                )
            good = [r for r in runs if "error" not in r and r["all_succeeded"]]
            if good:
                c = report["cosmos"]
                c["seconds"] = best_median([r["seconds"] for r in good])
                c["plain_seconds"] = entry["plain_s"]
                c["ratio_median"] = c["seconds"]["median"] / entry["plain_s"]["median"]
                c["ratio_best"] = c["seconds"]["best"] / entry["plain_s"]["best"]
                c["tasks_ran"] = good[0]["tasks_ran"]
                c["by_operator"] = good[0]["by_operator"]
                print(
                    f"  Cosmos {c['seconds']['median']:.2f} s vs plain {entry['plain_s']['median']:.2f} s (medians): "
                    f"ratio {c['ratio_median']:.2f} (best/best {c['ratio_best']:.2f}; target <= {RATIO_TARGET})",
                    flush=True,
                )
                if c["ratio_median"] > RATIO_TARGET:
                    median_run = sorted(good, key=lambda r: r["seconds"])[len(good) // 2]
                    median_plain = sorted(ok, key=lambda b: b["seconds"])[len(ok) // 2]
                    c["overhead"] = explain_overhead(runner, workdir, median_plain, median_run)
                    print_overhead(c["overhead"])

        first, last = str(scales[0]), str(scales[-1])
        if len(scales) > 1:
            growth = {}
            for key in ("plain_s", "nodes_s", *(f"{layer}_s" for layer in LAYERS)):
                a, b = report["per_scale"][first].get(key), report["per_scale"][last].get(key)
                if a and b:
                    growth[key] = b["median"] / a["median"]
            report["growth"] = {"from": int(first), "to": int(last), "ratios": growth}
        report["orchestrator_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        report["load_average_end"] = os.getloadavg()
        note_others("end")
        print_summary(report)
        RESULTS_DIR.mkdir(exist_ok=True)
        out = RESULTS_DIR / f"dbt-{stamp}.json"
        out.write_text(json.dumps(report, indent=2, default=str))
        print(f"results written to {out}")
        return 0
    finally:
        if services is not None:
            if args.keep:
                pid = services.info.get("s3_pid")
                print(
                    f"kept: databases {', '.join(databases)}, buckets {', '.join(buckets)} on {services.info['s3_url']}"
                    + (f" (moto server pid {pid}: kill {pid} when done)" if pid else "")
                )
            elif databases:
                dropped = runner.run("drop", databases=databases, buckets=buckets)
                report["cleanup"] = dropped
            services.stop(keep=args.keep)
        if args.keep:
            print(f"kept: working folder {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _verdict(value: float | None, target: float) -> str:
    return "not measured" if value is None else ("met" if value <= target else "NOT met")


def print_summary(report: dict) -> None:
    m = report["machine"]
    print("\n=== summary ===")
    d = report.get("dagbag", {})
    for key, label in (("all", "DagBag of dags/"), ("transform", "DagBag of dags/transform.py")):
        fill = d.get(key, {}).get("fill_s")
        if fill:
            n = len(d[key]["runs"][-1]["dags"])
            label += f" ({n} DAG{'s' if n != 1 else ''})"
            print(
                f"{label:<34} best {fill['best']:.2f} s, median {fill['median']:.2f} s "
                f"(target < {DAGBAG_TARGET_S:.0f} s: {_verdict(fill['median'], DAGBAG_TARGET_S - 1e-9)})"
            )
    c = report.get("cosmos", {})
    if "ratio_median" in c:
        print(
            f"Cosmos vs plain at {c['scale']:,} dwellings      Cosmos {c['seconds']['median']:.2f} s ({c['tasks_ran']} tasks), "
            f"plain dbt build {c['plain_seconds']['median']:.2f} s: ratio {c['ratio_median']:.2f} "
            f"(target <= {RATIO_TARGET}: {_verdict(c['ratio_median'], RATIO_TARGET)})"
        )
        o = c.get("overhead")
        if o:
            top = sorted(o["breakdown"], key=lambda r: -r["seconds"])[:4]
            print(
                f"  {o['per_task_overhead_s']:.2f} s per task beyond dbt's node work; largest parts per task: "
                + ", ".join(f"{r['part'].split(' (')[0]} {r['per_task_s']:.2f} s" for r in top)
            )
    elif c:
        print(f"Cosmos vs plain: FAILED ({c.get('error') or 'not every task succeeded'})")
    print(
        f"{'scale':>8} {'dbt build s':>11} {'seeds s':>8} {'staging s':>9} {'intermediate s':>14} {'marts s':>8} {'tests s':>8}"
    )
    for scale, e in report.get("per_scale", {}).items():
        if "plain_s" not in e:
            print(f"{int(scale):8,} FAILED")
            continue
        tests = statistics.median(
            [sum(v["seconds"] for k, v in b["layers"].items() if k.startswith("tests")) for b in e["plain"] if "layers" in b]
        )
        print(
            f"{int(scale):8,} {e['plain_s']['median']:11.2f} {_fmt(e.get('seeds_s', {}).get('median'), '8.2f'):>8} "
            f"{_fmt(e.get('staging_s', {}).get('median'), '9.2f'):>9} {_fmt(e.get('intermediate_s', {}).get('median'), '14.2f'):>14} "
            f"{_fmt(e.get('marts_s', {}).get('median'), '8.2f'):>8} {tests:8.2f}"
        )
    g = report.get("growth")
    if g:
        ratios = g["ratios"]
        print(
            f"growth {g['from']:,} -> {g['to']:,} dwellings (x{g['to'] / g['from']:.0f}): dbt build x{_fmt(ratios.get('plain_s'), '.2f')}, "
            f"node work x{_fmt(ratios.get('nodes_s'), '.2f')}, marts x{_fmt(ratios.get('marts_s'), '.2f')}, "
            f"intermediate x{_fmt(ratios.get('intermediate_s'), '.2f')}, staging x{_fmt(ratios.get('staging_s'), '.2f')}"
        )
    print("(medians of --repeat runs; layer seconds = sum of dbt's execution_time per node, threads 1)")
    la, lb = report["load_average_start"], report["load_average_end"]
    print(
        f"load average (1, 5, 15 min) at start {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, at end {lb[0]:.2f} {lb[1]:.2f} {lb[2]:.2f}"
        + (f"; OTHER benchmarks/tests seen running at: {', '.join(report['others_seen'])}" if report.get("others_seen") else "")
    )
    print(
        f"machine: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, Linux {m['kernel']}; Python {m['python']}; "
        f"Airflow {m['apache_airflow']}; Cosmos {m['astronomer_cosmos']}; dbt-core {m['dbt_core']}; dbt-duckdb {m['dbt_duckdb']}; "
        f"DuckDB {m['duckdb']}; PostgreSQL {m.get('postgresql')}"
    )


if __name__ == "__main__":
    sys.exit(main())
