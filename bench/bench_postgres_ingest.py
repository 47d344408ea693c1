"""PostgreSQL -> DuckDB ingestion benchmark: ours (zlv_dwh.ingest_postgres) against the COPY floor and peers.

One run builds one housing-like table in a scratch database, then reads that same table with every
method, each in its own child process: a method's peak RSS is the ru_maxrss that os.wait4 returns for
its child. Linux carries the parent's peak RSS across fork+exec into the child's ru_maxrss, so this
orchestrator imports only light stdlib modules (no psycopg, duckdb, importlib.metadata, not even
tempfile): all database work, and even reading package versions, happens in children. The child-process
machinery (Runner, child_main) is bench/childproc.py, shared with bench_files_ingest.py.

    python bench/bench_postgres_ingest.py [--rows 2000000] [--double] [--keep] [--methods ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sys
import time
from pathlib import Path

from childproc import (
    INSTALL_HINT,
    RESULTS_DIR,
    SEPARATE_VENV_PYTHON,
    Runner,
    _fmt,
    child_main,
    file_mb,
    machine_info,
    package_versions,
    utc_stamp,
)

TABLE = "bench_housing"
DB_MARKER = "zlv benchmark scratch database (bench/bench_postgres_ingest.py); dropped after each run"
LOADS = ("ours_full", "duckdb_attach", "pandas_chunks", "dlt_pyarrow")
ALL_METHODS = ("floor", *LOADS, "incremental")
LABELS = {
    "floor_psycopg": "floor: psycopg COPY TO STDOUT, discarded",
    "floor_psql": "floor: psql \\copy to /dev/null",
    "ours_full": "ours: ingest_table mode=full",
    "duckdb_attach": "DuckDB postgres ATTACH + CTAS",
    "pandas_chunks": "pandas.read_sql chunks -> DuckDB",
    "dlt_pyarrow": "dlt sql_database (pyarrow)",
}

# ~25 columns shaped like ZLV's fast_housing (production_schema.sql) plus jsonb and updated_at.
TABLE_DDL = """
create table {table} (
    id uuid not null,
    local_id text not null,
    invariant text not null,
    geo_code char(5) not null,
    building_id text,
    plot_id text,
    address_dgfip text[],
    longitude_dgfip double precision,
    latitude_dgfip double precision,
    cadastral_classification int,
    uncomfortable boolean,
    vacancy_start_year int,
    housing_kind text,
    rooms_count int,
    living_area numeric(10, 2),
    building_year int,
    mutation_date date,
    last_transaction_value bigint,
    taxed boolean,
    data_file_years text[],
    rental_value int,
    status int not null,
    occupancy text,
    payload jsonb,
    updated_at timestamptz not null
)"""
TABLE_FILL = """
insert into {table}
select
    gen_random_uuid(),
    lpad(g::text, 12, '0'),
    'I' || lpad((g::bigint * 7919 % 1000000007)::text, 10, '0'),
    geo,
    'B' || (g / 7),
    geo || '000AB' || lpad((g % 10000)::text, 4, '0'),
    array[(1 + g % 180) || ' RUE DE LA REPUBLIQUE', geo || ' COMMUNE ' || (g % 997)],
    -4.5 + random() * 12.5,
    42.5 + random() * 8.5,
    1 + g % 8,
    g % 17 = 0,
    case when g % 5 = 0 then null else 2000 + g % 24 end,
    case when g % 3 = 0 then 'APPART' else 'MAISON' end,
    1 + g % 7,
    round((12 + random() * 230)::numeric, 2),
    case when g % 11 = 0 then null else 1700 + g % 324 end,
    date '2000-01-01' + g % 9000,
    case when g % 4 = 0 then null else (20000 + random() * 800000)::bigint end,
    g % 2 = 0,
    case when g % 2 = 0 then array['2023', '2024'] else array['2024'] end,
    (random() * 6000)::int,
    g % 5,
    (array['V', 'L', 'P', 'B'])[1 + g % 4],
    jsonb_build_object('source', 'lovac', 'rank', g % 10, 'flags', jsonb_build_array(g % 2 = 0, g % 3 = 0)),
    now() - random() * interval '365 days'
from (select g, lpad((1000 + g % 95000)::text, 5, '0') as geo from generate_series(1, {rows}) g) s
"""


# ---------------------------------------------------------------------------------------------
# Children: each runs one method and writes a JSON result; `seconds` is measured around the work
# itself (connections included, interpreter start-up and imports excluded).
# ---------------------------------------------------------------------------------------------


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _duckdb_types(db: Path, schema: str, table: str) -> dict[str, str]:
    """Column -> DuckDB type of what a method stored, to compare type fidelity across methods."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select column_name, data_type from duckdb_columns() where schema_name = ? and table_name = ? order by column_index",
            [schema, table],
        ).fetchall()
    return dict(rows)


def _count(db: Path, relation: str) -> int:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"select count(*) from {relation}").fetchone()[0]


def child_setup(p: dict) -> dict:
    """Create the scratch database (refusing to drop one this benchmark did not create) and the table."""
    import psycopg
    from psycopg import sql

    out: dict = {}
    if p["create_database"]:
        with psycopg.connect(p["admin_dsn"], autocommit=True) as con:
            row = con.execute(
                "select shobj_description(oid, 'pg_database') from pg_database where datname = %s", [p["database"]]
            ).fetchone()
            if row is not None:
                if row[0] != DB_MARKER:
                    raise RuntimeError(f"database {p['database']} exists and was not created by this benchmark: pick --database")
                con.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(p["database"])))
            con.execute(sql.SQL("create database {}").format(sql.Identifier(p["database"])))
            con.execute(sql.SQL("comment on database {} is {}").format(sql.Identifier(p["database"]), sql.Literal(DB_MARKER)))
            out["server_version"] = con.execute("show server_version").fetchone()[0]
    table = sql.Identifier(p["table"])
    started = time.perf_counter()
    with psycopg.connect(p["dsn"], autocommit=True) as con:
        con.execute("set maintenance_work_mem = '512MB'")
        con.execute(sql.SQL(TABLE_DDL).format(table=table))
        con.execute(sql.SQL(TABLE_FILL).format(table=table, rows=sql.Literal(int(p["rows"]))))
        con.execute(sql.SQL("alter table {} add primary key (id)").format(table))
        con.execute(sql.SQL("alter table {} add unique (local_id)").format(table))
        if p["watermark_index"]:
            # What a source synced incrementally needs (the loader, read-only, cannot create it).
            con.execute(sql.SQL("create index on {} (updated_at)").format(table))
        # VACUUM (which ANALYZEs too) sets hint bits and the visibility map now, so the first method
        # to read the table does not pay for writing them.
        con.execute(sql.SQL("vacuum (freeze, analyze) {}").format(table))
        out["seconds"] = time.perf_counter() - started
        out["rows"] = con.execute(sql.SQL("select count(*) from {}").format(table)).fetchone()[0]
        out["table_mb"] = con.execute("select pg_relation_size(%s) / 1e6::float8", [p["table"]]).fetchone()[0]
        out["total_mb"] = con.execute("select pg_total_relation_size(%s) / 1e6::float8", [p["table"]]).fetchone()[0]
    if p["create_database"]:
        # Install the postgres extension once, outside any timing, into the run's extension folder.
        from zlv_dwh.warehouse import connect

        probe = Path(p["workdir"]) / "extension_probe.duckdb"
        with connect(probe, extensions=["postgres"], extension_dir=Path(p["ext_dir"])):
            pass
        probe.unlink()
        from zlv_dwh import ingest_postgres

        fields = set(ingest_postgres.TableSpec.__dataclass_fields__)
        out["incremental_available"] = "watermark" in fields
    return out


def child_floor_psycopg(p: dict) -> dict:
    """The floor: PostgreSQL's own text COPY, drained and discarded (rows = newlines: text COPY escapes them)."""
    import psycopg

    rows = nbytes = 0
    started = time.perf_counter()
    with psycopg.connect(p["dsn"]) as con, con.cursor() as cur:
        with cur.copy(f"copy (select * from {p['table']}) to stdout") as copy:
            for block in copy:
                rows += bytes(block).count(b"\n")
                nbytes += len(block)
    return {"seconds": time.perf_counter() - started, "rows": rows, "copy_mb": nbytes / 1e6}


def _ingest_result(result) -> dict:
    """ingest_table returned the row count, and now returns a LoadRecord: accept both."""
    if isinstance(result, int):
        return {"rows": result}
    out = {"rows": getattr(result, "rows_loaded", None)}
    for name in ("mode", "rows_read", "rows_inserted", "rows_updated", "rows_deleted", "deletes_checked"):
        if hasattr(result, name):
            out[name] = getattr(result, name)
    return out


def _loader_dsn(p: dict) -> str:
    """What ours loads with: a SELECT-only login on the bench database (the loads refuse a login that
    could write), or the DSN itself with a checkout older than that check."""
    try:
        from zlv_dwh.demo.services import create_reader
    except ImportError:
        return p["dsn"]
    import secrets

    import psycopg

    url = create_reader(p["dsn"], "zlv_bench_reader", secrets.token_hex(16))
    return " ".join(f"{k}={v}" for k, v in psycopg.conninfo.conninfo_to_dict(url).items())


def child_ours_full(p: dict) -> dict:
    from zlv_dwh import ingest_postgres as ip

    spec = ip.TableSpec(name=p["table"], primary_key=("id",), mode="full", keep_unclassified=True)
    db, dsn = Path(p["db"]), _loader_dsn(p)
    started = time.perf_counter()
    result = ip.ingest_table(
        spec, pg_dsn=dsn, warehouse=db, run_id="bench-full", key=b"bench-key", extension_dir=Path(p["ext_dir"])
    )
    out = {"seconds": time.perf_counter() - started, **_ingest_result(result)}
    out["types"] = _duckdb_types(db, "raw_production", p["table"])
    return out


def child_ours_incremental(p: dict) -> dict:
    """One incremental load on the run's incremental warehouse, then a check of what it holds."""
    from zlv_dwh import ingest_postgres as ip

    fields = set(ip.TableSpec.__dataclass_fields__)
    kwargs = {"name": p["table"], "primary_key": ("id",), "mode": "incremental", "watermark": "updated_at"}
    if "keep_unclassified" in fields:
        kwargs["keep_unclassified"] = True
    if "deletes" in fields:
        kwargs["deletes"] = "apply"
    db, dsn = Path(p["db"]), _loader_dsn(p)
    started = time.perf_counter()
    result = ip.ingest_table(
        ip.TableSpec(**kwargs),
        pg_dsn=dsn,
        warehouse=db,
        run_id=f"bench-{p['step']}",
        key=b"bench-key",
        extension_dir=Path(p["ext_dir"]),
    )
    out = {"seconds": time.perf_counter() - started, **_ingest_result(result)}
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        out["warehouse_rows"], out["warehouse_changed"] = con.execute(
            f'select count(*), count(*) filter (where status >= 10) from raw_production."{p["table"]}"'
        ).fetchone()
    return out


def child_mutate(p: dict) -> dict:
    """A day of production: `update` touches 1% of the rows (new updated_at, status + 10);
    `delete` deletes a few others (max(5, N / 20,000))."""
    import psycopg

    deletes = max(5, p["rows"] // 20_000)
    started = time.perf_counter()
    updated = deleted = 0
    with psycopg.connect(p["dsn"], autocommit=True) as con:
        table = p["table"]
        if p["change"] == "update":
            updated = con.execute(
                f"update {table} set updated_at = now(), status = status + 10 where local_id::bigint % 100 = 7"
            ).rowcount
        else:
            deleted = con.execute(
                f"delete from {table} where id in (select id from {table} where local_id::bigint % 100 = 11 limit {deletes:d})"
            ).rowcount
        seconds = time.perf_counter() - started
        total, changed = con.execute(f"select count(*), count(*) filter (where status >= 10) from {table}").fetchone()
    return {"seconds": seconds, "updated": updated, "deleted": deleted, "source_rows": total, "source_changed": changed}


def child_duckdb_attach(p: dict) -> dict:
    """Peer: the postgres extension used plainly, the way its documentation shows."""
    from zlv_dwh.warehouse import connect

    db = Path(p["db"])
    started = time.perf_counter()
    with connect(db, extensions=["postgres"], extension_dir=Path(p["ext_dir"])) as con:
        con.execute(f"attach {_quote_literal(p['dsn'])} as pg (type postgres, read_only)")
        con.execute(f"create table t as select * from pg.public.{p['table']}")
        rows = con.execute("select count(*) from t").fetchone()[0]
    return {"seconds": time.perf_counter() - started, "rows": rows, "types": _duckdb_types(db, "main", "t")}


def _sqlalchemy_url(dsn: str):
    import sqlalchemy as sa
    from psycopg.conninfo import conninfo_to_dict

    c = conninfo_to_dict(dsn)
    port = int(c["port"]) if c.get("port") else None
    return sa.engine.URL.create(
        "postgresql+psycopg",
        username=c.get("user"),
        password=c.get("password"),
        host=c.get("host"),
        port=port,
        database=c["dbname"],
    )


def child_pandas_chunks(p: dict) -> dict:
    """Peer: the naive pandas route (read_sql with chunksize, each chunk appended to DuckDB)."""
    try:
        import duckdb
        import pandas as pd
        import sqlalchemy as sa
    except ImportError as exc:
        return {"skipped": f"{exc.name} not installed ({INSTALL_HINT})"}
    db = Path(p["db"])
    rows = 0
    started = time.perf_counter()
    engine = sa.create_engine(_sqlalchemy_url(p["dsn"]))
    with duckdb.connect(str(db)) as con:
        for i, chunk in enumerate(pd.read_sql(f"select * from {p['table']}", engine, chunksize=100_000)):
            con.register("chunk", chunk)
            con.execute("create table t as select * from chunk" if i == 0 else "insert into t select * from chunk")
            con.unregister("chunk")
            rows += len(chunk)
    engine.dispose()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": _count(db, "t"), "rows_read": rows, "types": _duckdb_types(db, "main", "t")}


def child_dlt_pyarrow(p: dict) -> dict:
    """Peer: dlt's sql_database source with the pyarrow backend into a duckdb destination."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ["DLT_DATA_DIR"] = str(Path(p["workdir"]) / "dlt_data")
    try:
        import dlt
        from dlt.sources.sql_database import sql_database
    except ImportError as exc:
        return {"skipped": f"{exc.name} not installed ({INSTALL_HINT})"}
    db = Path(p["db"])
    started = time.perf_counter()
    source = sql_database(
        credentials=_sqlalchemy_url(p["dsn"]).render_as_string(hide_password=False),
        schema="public",
        table_names=[p["table"]],
        backend="pyarrow",
        chunk_size=100_000,
    )
    pipeline = dlt.pipeline(
        pipeline_name="zlv_bench",
        pipelines_dir=str(Path(p["workdir"]) / "dlt_pipelines"),
        destination=dlt.destinations.duckdb(str(db)),
        dataset_name="raw",
    )
    pipeline.run(source)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": _count(db, f"raw.{p['table']}"), "types": _duckdb_types(db, "raw", p["table"])}


def child_versions(p: dict) -> dict:
    """Package versions as this interpreter sees them (the peers may live in another venv)."""
    return package_versions(("duckdb", "duckdb-extension-postgres", "psycopg", "pandas", "sqlalchemy", "dlt", "pyarrow"))


def child_drop_database(p: dict) -> dict:
    import psycopg
    from psycopg import sql

    with psycopg.connect(p["admin_dsn"], autocommit=True) as con:
        row = con.execute(
            "select shobj_description(oid, 'pg_database') from pg_database where datname = %s", [p["database"]]
        ).fetchone()
        if row is not None and row[0] == DB_MARKER:
            con.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(p["database"])))
            return {"dropped": True}
    return {"dropped": False}


CHILDREN = {
    fn.__name__.removeprefix("child_"): fn
    for fn in (
        child_setup,
        child_floor_psycopg,
        child_ours_full,
        child_ours_incremental,
        child_mutate,
        child_duckdb_attach,
        child_pandas_chunks,
        child_dlt_pyarrow,
        child_versions,
        child_drop_database,
    )
}


# ---------------------------------------------------------------------------------------------
# Orchestrator (child processes: bench/childproc.py)
# ---------------------------------------------------------------------------------------------


class PgRunner(Runner):
    def run_psql(self, dsn: str, table: str) -> dict:
        """The psql floor: psql itself is the child, so its RSS is psql's (within the orchestrator's floor)."""
        cmd = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", f"\\copy (select * from {table}) to /dev/null"]
        log = self.workdir / "floor_psql.log"
        code, wall, rss = self.run_command(cmd, "psql", log)
        text = log.read_text(errors="replace").strip()
        copied = re.search(r"^COPY (\d+)$", text, re.MULTILINE)
        if code != 0 or not copied:
            return {"error": text or f"psql exited {code}", "rss_mb": rss, "wall_s": wall}
        return {"seconds": wall, "rows": int(copied.group(1)), "rss_mb": rss, "wall_s": wall}


def print_load_table(results: dict, floor_s: float | None, rows: int) -> None:
    print(f"\n{'method':<42} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'x floor':>8} {'peak RSS MB':>11} {'file MB':>8}")
    for key, r in results.items():
        label = LABELS.get(key, key)
        if "skipped" in r or "error" in r:
            print(f"{label:<42} {'skipped: ' + r['skipped'] if 'skipped' in r else 'FAILED: ' + r['error'][:80]}")
            continue
        rps = r["rows_per_s"]
        ratio = r["seconds"] / floor_s if floor_s else None
        flag = "" if r.get("rows") in (None, rows) else f"  <- {r['rows']} rows, expected {rows}"
        print(
            f"{label:<42} {_fmt(r.get('rows'), ',d'):>10} {r['seconds']:8.2f} {rps:9,.0f} {_fmt(ratio, '.2f'):>8} "
            f"{r['rss_mb']:11.0f} {_fmt(r.get('file_mb'), '.0f'):>8}{flag}"
        )


def type_differences(results: dict) -> dict[str, list[str]]:
    """Per method, the columns stored with another type than the plain postgres extension gives
    (bookkeeping columns such as _loaded_at or dlt's _dlt_id are ignored)."""
    reference = results.get("duckdb_attach", {}).get("types")
    if not reference:
        return {}
    diffs = {}
    for key, r in results.items():
        if key == "duckdb_attach" or not r.get("types"):
            continue
        diffs[key] = [f"{c}: {t} -> {r['types'].get(c, 'missing')}" for c, t in reference.items() if r["types"].get(c) != t]
    return diffs


def run_incremental(runner: PgRunner, workdir: Path, full_s: float | None) -> dict:
    """Initial incremental load (a full load: the warehouse is empty), then a day's changes, then nothing."""
    db = str(workdir / "ours_incremental.duckdb")
    steps = {}
    steps["initial"] = runner.run("ours_incremental", db=db, step="initial")
    if "error" in steps["initial"]:
        return steps
    steps["mutate_update"] = runner.run("mutate", change="update")
    steps["changed_1pct"] = runner.run("ours_incremental", db=db, step="changed-1pct")
    steps["mutate_delete"] = runner.run("mutate", change="delete")
    steps["deleted"] = runner.run("ours_incremental", db=db, step="deleted")
    steps["nothing_changed"] = runner.run("ours_incremental", db=db, step="nothing-changed")
    mutation = steps["mutate_delete"]
    print(
        f"\nincremental (ours, same warehouse; source changes: {steps['mutate_update'].get('updated', '?')} rows "
        f"updated, then {mutation.get('deleted', '?')} deleted)"
    )
    print(
        f"{'run':<18} {'seconds':>8} {'x full load':>11} {'peak RSS MB':>11} {'read':>9} {'inserted':>9} "
        f"{'updated':>8} {'deleted':>8} {'rows in warehouse':>18}  check"
    )
    for name in ("initial", "changed_1pct", "deleted", "nothing_changed"):
        r = steps[name]
        if "error" in r:
            print(f"{name:<18} FAILED: {r['error'][:100]}")
            continue
        after = steps["mutate_update"] if name == "changed_1pct" else mutation
        ok = r.get("warehouse_rows") == after.get("source_rows") and r.get("warehouse_changed") == after.get("source_changed")
        if name == "initial":
            ok = r.get("warehouse_changed") == 0
        ratio = r["seconds"] / full_s if full_s else None
        r["x_full_load"] = ratio
        r["check"] = "ok" if ok else "MISMATCH with the source"
        print(
            f"{name:<18} {r['seconds']:8.2f} {_fmt(ratio, '.2f'):>11} {r['rss_mb']:11.0f} {_fmt(r.get('rows_read'), ',d'):>9} "
            f"{_fmt(r.get('rows_inserted'), ',d'):>9} {_fmt(r.get('rows_updated'), ',d'):>8} {_fmt(r.get('rows_deleted'), ',d'):>8} "
            f"{_fmt(r.get('warehouse_rows'), ',d'):>18}  {r['check']}"
        )
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the benchmark table (default 2,000,000)")
    parser.add_argument("--database", default="zlv_bench", help="scratch database, created and dropped by the run")
    parser.add_argument("--pg-dsn", default="host=127.0.0.1 port=5432 user=postgres", help="libpq keyword DSN, without dbname")
    parser.add_argument("--admin-db", default="postgres", help="database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--methods", default=",".join(ALL_METHODS), help=f"comma-separated subset of {','.join(ALL_METHODS)}")
    parser.add_argument(
        "--no-watermark-index", action="store_true", help="no index on updated_at: incremental runs scan the source table"
    )
    parser.add_argument("--double", action="store_true", help="also run our full load on 2N rows: peak RSS at N and 2N")
    parser.add_argument("--keep", action="store_true", help="keep the database and the working folder (DuckDB files, logs)")
    parser.add_argument("--workdir", type=Path, default=None, help="parent of the working folder (default: system temp)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a method is stopped (default 3600)")
    parser.add_argument(
        "--peer-python", default=None, help="interpreter for the pandas and dlt children (default: bench/.venv-bench if present)"
    )
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "PARAMS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(CHILDREN, *args.child)

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - set(ALL_METHODS)
    if unknown or args.rows < 1 or not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error(
            f"unknown methods {sorted(unknown)}" if unknown else "--rows must be >= 1 and --database a plain lowercase name"
        )
    peer_python = args.peer_python or (str(SEPARATE_VENV_PYTHON) if SEPARATE_VENV_PYTHON.exists() else sys.executable)
    stamp = utc_stamp()
    workdir = (args.workdir or Path(os.environ.get("TMPDIR", "/tmp"))) / f"zlv-bench-{stamp}-{os.getpid()}"
    workdir.mkdir(parents=True)
    dsn = f"{args.pg_dsn} dbname={args.database}"
    base = {
        "dsn": dsn,
        "admin_dsn": f"{args.pg_dsn} dbname={args.admin_db}",
        "database": args.database,
        "table": TABLE,
        "rows": args.rows,
        "workdir": str(workdir),
        "ext_dir": str(workdir / "duckdb_extensions"),
        "watermark_index": not args.no_watermark_index,
    }
    runner = PgRunner(Path(__file__), workdir, base, args.timeout, peer_python)
    info = machine_info(runner, peer_python, ("pandas", "dlt", "pyarrow"))
    report: dict = {"started_utc": stamp, "rows": args.rows, "database": args.database, "machine": info, "methods": methods}
    print(
        f"ZLV ingestion benchmark: {args.rows:,} rows, database {args.database}, {info['cores']} cores, "
        f"Python {info['python']}, DuckDB {info['duckdb']}, peers run by {peer_python}\nworking folder {workdir}",
        flush=True,
    )
    try:
        print(f"creating {TABLE} ({args.rows:,} rows) ...", flush=True)
        setup = runner.run("setup", create_database=True)
        report["setup"] = setup
        if "error" in setup:
            return 1
        info["postgresql"] = setup.get("server_version")
        print(
            f"  generated, indexed and vacuumed in {setup['seconds']:.1f} s: heap {setup['table_mb']:.0f} MB, "
            f"with indexes {setup['total_mb']:.0f} MB",
            flush=True,
        )

        loads: dict[str, dict] = {}
        if "floor" in methods:
            print("floor: psycopg COPY ...", flush=True)
            loads["floor_psycopg"] = runner.run("floor_psycopg")
            if shutil.which("psql"):
                print("floor: psql \\copy ...", flush=True)
                loads["floor_psql"] = runner.run_psql(dsn, TABLE)
            else:
                loads["floor_psql"] = {"skipped": "psql not on PATH"}
        for method in (m for m in LOADS if m in methods):
            print(f"{LABELS[method]} ...", flush=True)
            python = peer_python if method in ("pandas_chunks", "dlt_pyarrow") else None
            db = workdir / f"{method}.duckdb"
            loads[method] = runner.run(method, python=python, db=str(db))
            loads[method]["file_mb"] = file_mb(db)
        for r in loads.values():
            if "seconds" in r and "error" not in r:
                r["rows_per_s"] = (r.get("rows") or args.rows) / r["seconds"]
        floors = {k: r["seconds"] for k, r in loads.items() if k.startswith("floor") and "rows_per_s" in r}
        floor_key = min(floors, key=floors.get) if floors else None
        floor_s = floors.get(floor_key)
        for r in loads.values():
            if "rows_per_s" in r and floor_s:
                r["x_floor"] = r["seconds"] / floor_s
        report["floor"] = floor_key
        report["loads"] = loads
        print_load_table(loads, floor_s, args.rows)
        if floor_key:
            print(f"(floor = {LABELS[floor_key]}, the faster of the two; x floor = seconds / floor seconds)")
        diffs = type_differences(loads)
        report["type_differences_vs_attach"] = diffs
        if diffs:
            print("\ncolumn types that differ from the plain postgres extension's:")
            for key, d in diffs.items():
                print(f"  {LABELS.get(key, key)}: {'; '.join(d) if d else 'none'}")

        full_s = loads.get("ours_full", {}).get("seconds") if "error" not in loads.get("ours_full", {}) else None
        if "incremental" in methods:
            if not setup.get("incremental_available"):
                print("\nincremental: not available yet")
                report["incremental"] = {"skipped": "not available yet"}
            else:
                report["incremental"] = run_incremental(runner, workdir, full_s)

        if args.double:
            print(f"\n--double: creating {TABLE}_2x ({2 * args.rows:,} rows) ...", flush=True)
            setup2 = runner.run("setup", create_database=False, table=f"{TABLE}_2x", rows=2 * args.rows)
            report["double"] = {"setup": setup2}
            if "error" not in setup2:
                db2 = workdir / "ours_full_2x.duckdb"
                r2 = runner.run("ours_full", table=f"{TABLE}_2x", db=str(db2))
                r2["file_mb"] = file_mb(db2)
                report["double"]["ours_full_2x"] = r2
                if "error" not in r2:
                    r1 = loads.get("ours_full", {})
                    print(f"{'ours, full load':<20} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'peak RSS MB':>11}")
                    for r, n in ((r1, args.rows), (r2, 2 * args.rows)):
                        if "seconds" in r:
                            print(f"{'':<20} {n:>10,} {r['seconds']:8.2f} {n / r['seconds']:9,.0f} {r['rss_mb']:11.0f}")
                    if "rss_mb" in r1:
                        print(f"peak RSS 2N / N = {r2['rss_mb'] / r1['rss_mb']:.2f} (1.00 = flat)")

        report["orchestrator_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print_summary(report)
        RESULTS_DIR.mkdir(exist_ok=True)
        out = RESULTS_DIR / f"{stamp}.json"
        out.write_text(json.dumps(report, indent=2, default=str))
        print(f"results written to {out}")
        return 0
    finally:
        if args.keep:
            print(f"kept: database {args.database}, working folder {workdir}")
        else:
            runner.run("drop_database")
            shutil.rmtree(workdir, ignore_errors=True)


def print_summary(report: dict) -> None:
    loads, m = report.get("loads", {}), report["machine"]
    print("\n=== summary ===")
    print(
        f"rows: {report['rows']:,} x 25 columns; table {report['setup']['table_mb']:.0f} MB heap, made in {report['setup']['seconds']:.1f} s"
    )
    for key, r in loads.items():
        if "rows_per_s" in r:
            print(
                f"{LABELS.get(key, key):<42} {r['rows_per_s']:>9,.0f} rows/s  x{_fmt(r.get('x_floor'), '.2f')} floor  "
                f"{r['rss_mb']:6.0f} MB peak RSS"
            )
        else:
            print(f"{LABELS.get(key, key):<42} {r.get('skipped') or 'FAILED'}")
    inc = report.get("incremental")
    if isinstance(inc, dict) and "skipped" in inc:
        print(f"incremental: {inc['skipped']}")
    elif inc:
        for name in ("changed_1pct", "deleted", "nothing_changed"):
            r = inc.get(name, {})
            if "seconds" in r:
                print(
                    f"incremental {name:<16} {r['seconds']:8.2f} s  x{_fmt(r.get('x_full_load'), '.2f')} full load  "
                    f"{r['rss_mb']:6.0f} MB peak RSS  {r.get('check')}"
                )
    double = report.get("double", {}).get("ours_full_2x")
    if double and "rss_mb" in double and "rss_mb" in loads.get("ours_full", {}):
        print(f"ours full load peak RSS: {loads['ours_full']['rss_mb']:.0f} MB at N, {double['rss_mb']:.0f} MB at 2N")
    print(
        f"machine: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, Linux {m['kernel']}; Python {m['python']}; "
        f"DuckDB {m['duckdb']}; PostgreSQL {m.get('postgresql')}; psycopg {m['psycopg']}; pandas {m['pandas']}; dlt {m['dlt']}"
    )
    print(
        f"peak RSS is each child's ru_maxrss; it cannot read below the orchestrator's own {report['orchestrator_rss_mb']:.0f} MB "
        "(Linux carries the parent's RSS into a child's maxrss)"
    )


if __name__ == "__main__":
    sys.exit(main())
