"""File ingestion benchmark: ours (zlv_dwh.ingest_files) against the download + read floor and pandas.

One run generates LOVAC-shaped CSV objects (the `lovac` dataset of include/config/file_families.yml:
its columns and types, ';', Latin-1, uncompressed; one object per millésime) on a local S3-compatible
server (moto, started through zlv_dwh.demo.services), then loads those same objects with every
method, each in its own child process (bench/childproc.py): a method's peak RSS is the ru_maxrss
that os.wait4 returns for its child, so this orchestrator imports only light stdlib modules.

    python bench/bench_files_ingest.py [--mb 1024] [--objects 4] [--double] [--keep] [--methods ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

from childproc import (
    INSTALL_HINT,
    RESULTS_DIR,
    SEPARATE_VENV_PYTHON,
    HeldChild,
    Runner,
    _fmt,
    child_main,
    file_mb,
    hold_until_released,
    machine_info,
    package_versions,
    utc_stamp,
)

FAMILY, DATASET = "locomvac", "lovac"
KEY_PATTERN = "lake/cerema/lovac/{millesime}/raw.csv"
BUCKET = "zlv-bench-files"
FIRST_MILLESIME = 2020
HASH_KEY = b"bench-key"
CHUNK = 8 * 1024 * 1024  # what ingest_files.download reads per chunk
METHODS = ("floor_download", "floor_read", "ours", "pandas_chunks")
LABELS = {
    "floor_download": "floor: boto3 get_object -> discarded",
    "floor_read": "floor: DuckDB read_csv of local copies",
    "floor": "floor = download + read",
    "ours": "ours: ingest_files.ingest_family",
    "pandas_chunks": "pandas read_csv chunks -> DuckDB",
    "ours_2x": "ours, objects twice as big",
}

# Values with accents (all in Latin-1) so that the encoding matters.
COMMUNES = [
    "Saint-Étienne", "Besançon", "Orléans", "Nîmes", "Évry-Courcouronnes", "Périgueux", "Béziers", "Lyon",
    "Marseille", "Montreuil", "Brest", "Angoulême", "Châteauroux", "Épinal", "Mâcon", "Niort", "Colmar",
    "Gap", "Rodez", "Thônes", "Saint-Brieuc", "Sète", "Vénissieux", "Bourg-en-Bresse",
]  # fmt: skip
SURNAMES = [
    "MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEFÈVRE", "MERCIER",
    "GIRAUD", "BENOÎT", "FRANÇOIS", "GARÇON", "HÉBERT", "MÉNARD",
]  # fmt: skip
FIRST_NAMES = ["JEAN", "MARIE", "HÉLÈNE", "FRANÇOISE", "JÉRÔME", "AGNÈS", "NOËL", "CÉLINE", "LOUIS", "ANNE", "RENÉ", "ZOÉ"]
STREETS = [
    "RUE DE L'ÉGLISE", "AVENUE DU GÉNÉRAL DE GAULLE", "PLACE DE LA RÉPUBLIQUE", "CHEMIN DES ÉCOLIERS",
    "RUE PASTEUR", "IMPASSE DES CHÊNES", "BOULEVARD GAMBETTA", "ROUTE DE NÎMES", "ALLÉE DES PEUPLIERS",
]  # fmt: skip

# One row per value of i in range(rows); every column of the lovac contract, in file order, from a
# hash of i (deterministic, vectorised: no Python row loop).
GENERATE_SQL = """
with base as (
    select i, hash(i + {seed}) as h, hash(i * 31 + 7 + {seed}) as g,
           lpad((1 + hash(i + {seed}) % 95)::varchar, 2, '0') as dep,
           lpad((1 + (hash(i + {seed}) >> 7) % 899)::varchar, 3, '0') as com
    from range({rows}) t(i)
)
select
    {millesime} as annee,
    {millesime} - 1 as ff_millesime,
    lpad((h % 10000000000)::varchar, 10, '0') as invariant,
    dep || com || lpad(i::varchar, 9, '0') as ff_idlocal,
    dep as ccodep,
    {communes}[1 + (h % {n_communes})::int] as commune,
    ((h >> 8) % 10)::int as groupe,
    'H' as aff,
    case when (h >> 12) % 3 = 0 then 'APPARTEMENT' else 'MAISON' end as nature,
    case when (h >> 14) % 7 = 0 then null else 2000 + ((h >> 16) % 24)::int end as debutvacance,
    100 + ((h >> 20) % 8000)::int as vlcad,
    ['V', 'L', 'P', 'B', 'T'][1 + ((h >> 24) % 5)::int] as ff_ccthp,
    15 + ((h >> 28) % 220)::int as ff_stoth,
    1 + ((h >> 32) % 8)::int as ff_npiece_p2,
    case when (h >> 36) % 11 = 0 then null else 1700 + ((h >> 40) % 324)::int end as ff_jannath,
    round(42.3 + (g % 1000000) / 1e6 * 8.8, 6) as ban_latitude,
    round(-4.8 + ((g >> 20) % 1000000) / 1e6 * 13.0, 6) as ban_longitude,
    dep || 'A' || lpad(((g >> 40) % 100000)::varchar, 5, '0') as ff_idpersonne_1,
    {surnames}[1 + ((g >> 3) % {n_surnames})::int] || '/' || {first_names}[1 + ((g >> 9) % {n_first})::int] as ff_ddenom_1,
    lpad((1 + (g >> 13) % 28)::varchar, 2, '0') || '/' || lpad((1 + (g >> 18) % 12)::varchar, 2, '0') || '/'
        || (1930 + (g >> 23) % 75)::varchar as ff_jdatnss_1,
    case when g % 2 = 0 then null else dep || 'B' || lpad(((g >> 30) % 100000)::varchar, 5, '0') end as ff_idpersonne_2,
    case when g % 2 = 0 then null else {surnames}[1 + ((g >> 33) % {n_surnames})::int] || '/'
        || {first_names}[1 + ((g >> 37) % {n_first})::int] end as ff_ddenom_2,
    case when g % 2 = 0 then null else lpad((1 + (g >> 41) % 28)::varchar, 2, '0') || '/'
        || lpad((1 + (g >> 46) % 12)::varchar, 2, '0') || '/' || (1930 + (g >> 50) % 75)::varchar end as ff_jdatnss_2,
    {first_names}[1 + ((g >> 9) % {n_first})::int] || ' ' || {surnames}[1 + ((g >> 3) % {n_surnames})::int] as proprietaire,
    (1 + (h >> 44) % 180)::varchar || ' ' || {streets}[1 + ((h >> 52) % {n_streets})::int] as adresse1,
    dep || com || ' ' || upper({communes}[1 + (h % {n_communes})::int]) as adresse2
from base
"""


# ---------------------------------------------------------------------------------------------
# Children: each runs one step or method and writes a JSON result; `seconds` is measured around
# the work itself (interpreter start-up and imports excluded).
# ---------------------------------------------------------------------------------------------


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> dict:
    """Wall seconds, and CPU seconds of this process (all its threads), since `start`; the 1-minute
    load average then, to tell a quiet machine from a busy one."""
    return {"seconds": time.perf_counter() - start[0], "cpu_s": time.process_time() - start[1], "load_1min": os.getloadavg()[0]}


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _lovac():
    """The lovac DatasetSpec of file_families.yml (columns, dialect, drop, pseudonymise) under the bench's key pattern."""
    import dataclasses

    from zlv_dwh.ingest_files import load_config

    ds = load_config().families[FAMILY].dataset(DATASET)
    return dataclasses.replace(ds, key_pattern=KEY_PATTERN)


def _s3(p: dict):
    from zlv_dwh.ingest_files import S3Settings, s3_client

    settings = S3Settings(p["s3_url"], p["s3_access_key"], p["s3_secret_key"])
    return settings, s3_client(settings)


def child_s3_server(p: dict) -> dict:
    """Holds the S3 server for the run: starts it (zlv_dwh.demo.services), writes its URL to
    p["ready_file"], then waits for its standard input to close and stops it, unless told `keep`."""
    from zlv_dwh.demo import services

    service = services.start_s3(say=print)
    access, secret = services.s3_credentials()
    server_pid = None
    if service.started_here:  # moto_server is this process's only child
        children = Path(f"/proc/self/task/{os.getpid()}/children").read_text().split()
        server_pid = int(children[0]) if children else None
    info = {"url": service.url, "started_here": service.started_here, "pid": server_pid}
    command = hold_until_released(p["ready_file"], {**info, "access_key": access, "secret_key": secret})
    if command != "keep":
        service.stop()
    return {**info, "stopped": command != "keep"}


def child_versions(p: dict) -> dict:
    return package_versions(("duckdb", "boto3", "moto", "pandas", "pyarrow"))


def _transcode(src: Path, dst: Path, encoding: str) -> None:
    """UTF-8 (what DuckDB writes) to the contract's encoding, in 16 M-character blocks."""
    with src.open(encoding="utf-8", newline="") as fin, dst.open("w", encoding=encoding, newline="") as fout:
        while block := fin.read(16 * 1024 * 1024):
            fout.write(block)


def child_generate(p: dict) -> dict:
    """Write the objects' CSV files: DuckDB COPY TO (UTF-8), then transcoded to the contract's encoding.
    Rows per object from a calibration sample, so that the objects total at least p["mb"] MB."""
    import duckdb

    ds = _lovac()
    folder = Path(p["gen_dir"])
    folder.mkdir(parents=True, exist_ok=True)
    names = {
        "communes": _sql_list(COMMUNES),
        "n_communes": len(COMMUNES),
        "surnames": _sql_list(SURNAMES),
        "n_surnames": len(SURNAMES),
        "first_names": _sql_list(FIRST_NAMES),
        "n_first": len(FIRST_NAMES),
        "streets": _sql_list(STREETS),
        "n_streets": len(STREETS),
    }
    options = f"(format csv, header true, delimiter '{ds.delimiter}', quote '{ds.quote}')"

    def write(con, rows: int, millesime: int, seed: int, path: Path) -> None:
        utf8 = path.with_suffix(".utf8.csv")
        query = GENERATE_SQL.format(rows=rows, millesime=millesime, seed=seed, **names)
        con.execute(f"copy ({query}) to '{utf8}' {options}")
        _transcode(utf8, path, ds.encoding)
        utf8.unlink()

    started = time.perf_counter()
    objects = []
    with duckdb.connect() as con:
        header = [
            row[0] for row in con.execute(f"describe {GENERATE_SQL.format(rows=1, millesime=2000, seed=0, **names)}").fetchall()
        ]
        if header != list(ds.columns):
            raise RuntimeError(f"generated columns {header} differ from the lovac contract {list(ds.columns)}")
        sample_rows = 50_000
        sample = folder / "sample.csv"
        write(con, sample_rows, FIRST_MILLESIME, 10**9, sample)
        bytes_per_row = sample.stat().st_size / sample_rows
        sample.unlink()
        target = p["mb"] * 1e6 * p["scale"] / p["objects"]
        rows = int(target / bytes_per_row * 1.005) + 1
        for n in range(p["objects"]):
            millesime = FIRST_MILLESIME + n
            path = folder / f"{millesime}.csv"
            write(con, rows, millesime, n * 7919, path)
            objects.append(
                {"key": KEY_PATTERN.format(millesime=millesime), "path": str(path), "rows": rows, "bytes": path.stat().st_size}
            )
    return {"seconds": time.perf_counter() - started, "objects": objects, "bytes_per_row": bytes_per_row}


def child_upload(p: dict) -> dict:
    """Create the bucket (emptied first if it exists) and upload the generated files (multipart)."""
    from boto3.s3.transfer import TransferConfig

    _, client = _s3(p)
    started = time.perf_counter()
    _empty_bucket(client, p["bucket"], create=True)
    config = TransferConfig(multipart_threshold=64 * 1024 * 1024, multipart_chunksize=64 * 1024 * 1024, max_concurrency=4)
    etags = {}
    for obj in p["objects"]:
        client.upload_file(obj["path"], p["bucket"], obj["key"], Config=config)
        etags[obj["key"]] = client.head_object(Bucket=p["bucket"], Key=obj["key"])["ETag"].strip('"')
    return {"seconds": time.perf_counter() - started, "etags": etags}


def _empty_bucket(client, bucket: str, *, create: bool = False, delete: bool = False) -> None:
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        if create:
            client.create_bucket(Bucket=bucket)
        return
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=obj["Key"])
    if delete:
        client.delete_bucket(Bucket=bucket)


def child_drop_bucket(p: dict) -> dict:
    _, client = _s3(p)
    _empty_bucket(client, p["bucket"], delete=True)
    return {"dropped": True}


def child_fetch_local(p: dict) -> dict:
    """Local copies of the objects for floor_read (outside any timing)."""
    _, client = _s3(p)
    folder = Path(p["local_dir"])
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    paths = []
    for obj in p["objects"]:
        path = folder / f"{obj['key'].split('/')[-2]}.csv"
        client.download_file(p["bucket"], obj["key"], str(path))
        if path.stat().st_size != obj["bytes"]:
            raise RuntimeError(f"{obj['key']}: downloaded {path.stat().st_size} bytes, generated {obj['bytes']}")
        paths.append(str(path))
    return {"seconds": time.perf_counter() - started, "paths": paths}


def child_floor_download(p: dict) -> dict:
    """The download half of the floor: every object through boto3 get_object, in ingest_files' chunk size, discarded."""
    _, client = _s3(p)
    nbytes = 0
    started = _clock()
    for obj in p["objects"]:
        body = client.get_object(Bucket=p["bucket"], Key=obj["key"])["Body"]
        for chunk in body.iter_chunks(CHUNK):
            nbytes += len(chunk)
    return {**_since(started), "bytes": nbytes, "rows": sum(o["rows"] for o in p["objects"])}


def child_floor_read(p: dict) -> dict:
    """The read half of the floor: DuckDB read_csv of the local copies, with the contract's columns and
    dialect (nothing sniffed, every declared column stored), into a table of a fresh DuckDB file."""
    import duckdb

    ds = _lovac()

    def lit(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    columns = "{" + ", ".join(f"{lit(c)}: {lit(t)}" for c, t in ds.columns.items()) + "}"
    files = "[" + ", ".join(lit(path) for path in p["paths"]) + "]"
    options = (
        f"header = true, delim = {lit(ds.delimiter)}, quote = {lit(ds.quote)}, encoding = {lit(ds.encoding)}, "
        f"compression = {lit(ds.compression)}, auto_detect = false, columns = {columns}"
    )
    started = _clock()
    with duckdb.connect(p["db"]) as con:
        # The fastest plain settings: no insertion-order bookkeeping (measured: 18.6 s instead of
        # 21.7 s for 1 GB here); DuckDB's default memory limit (80% of RAM) and threads.
        con.execute("set preserve_insertion_order = false")
        con.execute(f"create table t as select * from read_csv({files}, {options})")
        rows = con.execute("select count(*) from t").fetchone()[0]
    return {**_since(started), "rows": rows}


def child_ours(p: dict) -> dict:
    """ingest_family of a family holding just the lovac dataset, into a fresh warehouse. The phases
    (download, contract check, replace rows) are timed by wrapping ingest_files' own functions."""
    from zlv_dwh import ingest_files as fi

    phases: dict[str, float] = {}
    phases_cpu: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0, c0 = _clock()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0
                phases_cpu[name] = phases_cpu.get(name, 0.0) + time.process_time() - c0

        return wrapper

    fi.download = timed("download", fi.download)
    fi.check_contract = timed("check_contract", fi.check_contract)
    fi._replace_rows = timed("replace_rows", fi._replace_rows)
    fi.list_objects = timed("list_objects", fi.list_objects)
    family = fi.FamilySpec(FAMILY, "bench: lovac only", (_lovac(),))
    settings, _ = _s3(p)
    warehouse = Path(p["db"])
    started = _clock()
    report = fi.ingest_family(
        family, s3=settings, bucket=p["bucket"], warehouse=warehouse, run_id="bench-files", hash_key=HASH_KEY
    )
    timing = _since(started)
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = con.execute(f"select count(*) from raw_{FAMILY}.{DATASET}").fetchone()[0]
    statuses = [o.status for o in report.outcomes]
    return {
        **timing,
        "rows": stored,
        "rows_reported": sum(o.rows or 0 for o in report.outcomes),
        "malformed": sum(o.malformed for o in report.outcomes),
        "statuses": statuses,
        "phases": phases,
        "phases_cpu": phases_cpu,
    }


def child_pandas_chunks(p: dict) -> dict:
    """Peer: the naive pandas route: get_object Body -> read_csv in chunks (dtypes from the contract)
    -> each chunk registered and inserted into DuckDB. Every column kept, none pseudonymised."""
    try:
        import duckdb
        import pandas as pd
    except ImportError as exc:
        return {"skipped": f"{exc.name} not installed ({INSTALL_HINT})"}
    import boto3

    ds = _lovac()
    dtypes = {c: {"INTEGER": "Int32", "DOUBLE": "float64"}.get(t, "str") for c, t in ds.columns.items()}
    client = boto3.client(
        "s3", endpoint_url=p["s3_url"], aws_access_key_id=p["s3_access_key"], aws_secret_access_key=p["s3_secret_key"]
    )
    rows = 0
    started = _clock()
    with duckdb.connect(p["db"]) as con:
        for obj in p["objects"]:
            body = client.get_object(Bucket=p["bucket"], Key=obj["key"])["Body"]
            for chunk in pd.read_csv(body, sep=ds.delimiter, encoding=ds.encoding, chunksize=100_000, dtype=dtypes):
                con.register("chunk", chunk)
                con.execute("create table t as select * from chunk" if rows == 0 else "insert into t select * from chunk")
                con.unregister("chunk")
                rows += len(chunk)
        stored = con.execute("select count(*) from t").fetchone()[0]
    return {**_since(started), "rows": stored, "rows_read": rows}


CHILDREN = {
    fn.__name__.removeprefix("child_"): fn
    for fn in (
        child_s3_server,
        child_versions,
        child_generate,
        child_upload,
        child_drop_bucket,
        child_fetch_local,
        child_floor_download,
        child_floor_read,
        child_ours,
        child_pandas_chunks,
    )
}


# ---------------------------------------------------------------------------------------------
# Orchestrator (child processes: bench/childproc.py)
# ---------------------------------------------------------------------------------------------


def _throughput(r: dict, total_bytes: int, rows: int) -> None:
    if "seconds" in r and "error" not in r and "skipped" not in r:
        r["mb_per_s"] = total_bytes / 1e6 / r["seconds"]
        r["rows_per_s"] = rows / r["seconds"]


def print_table(loads: dict, floor: dict, rows: int, total_mb: float) -> None:
    print(
        f"\n{'method':<42} {'rows':>11} {'MB':>6} {'seconds':>8} {'MB/s':>7} {'rows/s':>10} {'x floor':>8} "
        f"{'CPU s':>7} {'x floor':>8} {'peak RSS MB':>11}"
    )
    for key, r in loads.items():
        label = LABELS.get(key, key)
        if "skipped" in r or "error" in r:
            print(f"{label:<42} {'skipped: ' + r['skipped'] if 'skipped' in r else 'FAILED: ' + r['error'][:80]}")
            continue
        expected = r.get("expected_rows", rows)
        flag = "" if r.get("rows") in (None, expected) else f"  <- {r['rows']:,} rows, expected {expected:,}"
        ratio = r["seconds"] / floor["seconds"] if floor.get("seconds") else None
        cpu_ratio = r["cpu_s"] / floor["cpu_s"] if floor.get("cpu_s") and r.get("cpu_s") else None
        print(
            f"{label:<42} {_fmt(r.get('rows'), ',d'):>11} {r.get('mb', total_mb):6.0f} {r['seconds']:8.2f} {r['mb_per_s']:7.1f} "
            f"{r['rows_per_s']:10,.0f} {_fmt(ratio, '.2f'):>8} {_fmt(r.get('cpu_s'), '.1f'):>7} {_fmt(cpu_ratio, '.2f'):>8} "
            f"{_fmt(r.get('rss_mb'), '.0f'):>11}{flag}"
        )


def _verdict(value: float | None, target: float, at_most: bool) -> str:
    if value is None:
        return "not measured"
    return "met" if (value <= target if at_most else value >= target) else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=1024, help="total size of the objects, MB of 10^6 bytes (default 1024)")
    parser.add_argument("--objects", type=int, default=4, help="number of objects, one per millésime (default 4)")
    parser.add_argument(
        "--methods", default="floor," + ",".join(METHODS[2:]), help=f"comma-separated subset of floor,{','.join(METHODS)}"
    )
    parser.add_argument("--double", action="store_true", help="also run our load on objects twice as big: peak RSS at N and 2N")
    parser.add_argument(
        "--keep", action="store_true", help="keep the working folder (files, DuckDB files, logs) and the S3 server"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="parent of the working folder (default: system temp)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a method is stopped (default 3600)")
    parser.add_argument(
        "--peer-python", default=None, help="interpreter for the pandas child (default: bench/.venv-bench if present)"
    )
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "PARAMS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(CHILDREN, *args.child)

    methods = []
    for m in (m.strip() for m in args.methods.split(",")):
        methods += ["floor_download", "floor_read"] if m == "floor" else [m] if m else []
    unknown = set(methods) - set(METHODS)
    if unknown or args.mb <= 0 or args.objects < 1:
        parser.error(f"unknown methods {sorted(unknown)}" if unknown else "--mb must be > 0 and --objects >= 1")
    peer_python = args.peer_python or (str(SEPARATE_VENV_PYTHON) if SEPARATE_VENV_PYTHON.exists() else sys.executable)
    stamp = utc_stamp()
    workdir = (args.workdir or Path(os.environ.get("TMPDIR", "/tmp"))) / f"zlv-bench-files-{stamp}-{os.getpid()}"
    workdir.mkdir(parents=True)
    runner = Runner(Path(__file__), workdir, {"bucket": BUCKET}, args.timeout, peer_python)
    info = machine_info(runner, peer_python, ("pandas", "pyarrow"))
    report: dict = {"started_utc": stamp, "mb": args.mb, "objects": args.objects, "machine": info, "methods": methods}
    print(
        f"ZLV file ingestion benchmark: {args.objects} LOVAC-shaped objects, {args.mb:,.0f} MB in all, {info['cores']} cores, "
        f"Python {info['python']}, DuckDB {info['duckdb']}, peers run by {peer_python}\nworking folder {workdir}",
        flush=True,
    )
    s3 = None
    try:
        s3 = HeldChild(runner, "s3_server", {}, timeout_s=60, stop_timeout_s=30)
        runner.base.update(s3_url=s3.info["url"], s3_access_key=s3.info["access_key"], s3_secret_key=s3.info["secret_key"])
        report["s3"] = {k: s3.info[k] for k in ("url", "started_here")}
        kind = "moto, started here" if s3.info["started_here"] else "ZLV_DEMO_S3_URL"
        print(f"S3 server: {s3.info['url']} ({kind})", flush=True)
        objects, gen = make_objects(runner, workdir, args, scale=1)
        report["generate"] = gen
        if objects is None:
            return 1
        rows = sum(o["rows"] for o in objects)
        total_bytes = sum(o["bytes"] for o in objects)
        total_mb = total_bytes / 1e6
        loads: dict[str, dict] = {}
        if "floor_read" in methods:
            print("local copies for floor_read (not timed) ...", flush=True)
            local = runner.run("fetch_local", objects=objects, local_dir=str(workdir / "local"))
            report["fetch_local"] = local
        if "floor_download" in methods:
            print(f"{LABELS['floor_download']} ...", flush=True)
            loads["floor_download"] = runner.run("floor_download", objects=objects)
        if "floor_read" in methods and "error" not in local:
            print(f"{LABELS['floor_read']} ...", flush=True)
            db = workdir / "floor_read.duckdb"
            loads["floor_read"] = runner.run("floor_read", paths=local["paths"], db=str(db))
            loads["floor_read"]["file_mb"] = file_mb(db)
        fd, fr = loads.get("floor_download", {}), loads.get("floor_read", {})
        if "seconds" in fd and "seconds" in fr and "error" not in fd and "error" not in fr:
            loads["floor"] = {
                "seconds": fd["seconds"] + fr["seconds"],
                "cpu_s": fd["cpu_s"] + fr["cpu_s"],
                "rows": fr["rows"],
                "rss_mb": max(fd["rss_mb"], fr["rss_mb"]),
            }
        if "ours" in methods:
            print(f"{LABELS['ours']} ...", flush=True)
            db = workdir / "ours" / "warehouse.duckdb"
            loads["ours"] = runner.run("ours", objects=objects, db=str(db))
            loads["ours"]["file_mb"] = file_mb(db)
        if "pandas_chunks" in methods:
            print(f"{LABELS['pandas_chunks']} ...", flush=True)
            db = workdir / "pandas_chunks.duckdb"
            loads["pandas_chunks"] = runner.run("pandas_chunks", python=peer_python, objects=objects, db=str(db))
            loads["pandas_chunks"]["file_mb"] = file_mb(db)
        for r in loads.values():
            _throughput(r, total_bytes, rows)
        floor = loads.get("floor", {})
        for r in loads.values():
            if "rows_per_s" in r and floor:
                r["x_floor"] = r["seconds"] / floor["seconds"]
                r["x_floor_cpu"] = r["cpu_s"] / floor["cpu_s"]
        report["loads"] = loads
        print_table(loads, floor, rows, total_mb)
        print(
            "(floor = floor_download + floor_read, seconds and CPU seconds: what downloading then reading minimally costs;\n"
            " CPU s = CPU time of the method's process, all threads, the S3 server's excluded)"
        )
        ours = loads.get("ours", {})
        if "phases" in ours:
            phases, cpu = ours["phases"], ours["phases_cpu"]
            rest, rest_cpu = ours["seconds"] - sum(phases.values()), ours["cpu_s"] - sum(cpu.values())
            print(
                "ours, where the time goes (seconds / CPU seconds): "
                + ", ".join(f"{k} {v:.2f} / {cpu[k]:.2f}" for k, v in phases.items())
                + f", the rest (connections, manifest, load log, report) {rest:.2f} / {rest_cpu:.2f}"
            )

        if args.double:
            run_double(runner, workdir, args, report, ours)
        report["orchestrator_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print_summary(report)
        RESULTS_DIR.mkdir(exist_ok=True)
        out = RESULTS_DIR / f"files-{stamp}.json"
        out.write_text(json.dumps(report, indent=2, default=str))
        print(f"results written to {out}")
        return 0
    finally:
        if args.keep:
            if s3 is not None:
                s3.stop(keep=True)
                pid = s3.info["pid"]
                print(
                    f"kept: bucket {BUCKET} on S3 server {s3.info['url']}"
                    + (f" (pid {pid}: kill {pid} to stop it)" if pid else "")
                )
            print(f"kept: working folder {workdir}")
        else:
            if s3 is not None:
                if not s3.info["started_here"]:  # someone else's server: leave it as found
                    runner.run("drop_bucket")
                s3.stop()
            shutil.rmtree(workdir, ignore_errors=True)


def make_objects(runner: Runner, workdir: Path, args, scale: int) -> tuple[list[dict] | None, dict]:
    """Generate the objects (scale x --mb in all), upload them to the bucket, remove the local files."""
    size = f"{scale * args.mb:,.0f} MB" if scale == 1 else f"{scale} x {args.mb:,.0f} MB"
    print(f"generating {args.objects} objects, {size} in all (DuckDB COPY TO, then Latin-1) ...", flush=True)
    gen_dir = workdir / f"gen_{scale}x"
    gen = runner.run("generate", mb=args.mb, objects=args.objects, scale=scale, gen_dir=str(gen_dir))
    if "error" in gen:
        return None, {"generate": gen}
    objects = gen["objects"]
    up = runner.run("upload", objects=objects)
    shutil.rmtree(gen_dir, ignore_errors=True)
    if "error" in up:
        return None, {"generate": gen, "upload": up}
    total = sum(o["bytes"] for o in objects)
    rows = sum(o["rows"] for o in objects)
    print(
        f"  generated in {gen['seconds']:.1f} s ({gen['bytes_per_row']:.0f} bytes/row), uploaded in {up['seconds']:.1f} s "
        f"({total / 1e6 / up['seconds']:.0f} MB/s): {len(objects)} objects x {objects[0]['rows']:,} rows = {rows:,} rows, "
        f"{total / 1e6:,.0f} MB ({total / 2**30:.2f} GiB)",
        flush=True,
    )
    for o in objects:
        print(f"    s3://{BUCKET}/{o['key']}  {o['bytes'] / 1e6:8.1f} MB  {o['rows']:,} rows", flush=True)
    return objects, {"seconds": gen["seconds"], "upload_seconds": up["seconds"], "objects": objects, "bytes": total, "rows": rows}


def run_double(runner: Runner, workdir: Path, args, report: dict, ours: dict) -> None:
    print("\n--double: the objects again, twice as big, replacing the first ones", flush=True)
    objects2, gen2 = make_objects(runner, workdir, args, scale=2)
    report["double"] = {"generate": gen2}
    if objects2 is None:
        return
    db2 = workdir / "ours_2x" / "warehouse.duckdb"
    print(f"{LABELS['ours_2x']} ...", flush=True)
    r2 = runner.run("ours", objects=objects2, db=str(db2))
    r2["file_mb"] = file_mb(db2)
    r2["expected_rows"], r2["mb"] = gen2["rows"], gen2["bytes"] / 1e6
    _throughput(r2, gen2["bytes"], gen2["rows"])
    report["double"]["ours_2x"] = r2
    if "error" in r2 or "seconds" not in ours or "error" in ours:
        return
    print(f"{'ours':<20} {'rows':>11} {'MB':>6} {'seconds':>8} {'MB/s':>7} {'peak RSS MB':>11}")
    n_rows, n_mb = report["generate"]["rows"], report["generate"]["bytes"] / 1e6
    for r, rows, mb in ((ours, n_rows, n_mb), (r2, gen2["rows"], gen2["bytes"] / 1e6)):
        print(f"{'':<20} {rows:>11,} {mb:6.0f} {r['seconds']:8.2f} {mb / r['seconds']:7.1f} {r['rss_mb']:11.0f}")
    ratio = r2["rss_mb"] / ours["rss_mb"]
    report["double"]["rss_2n_over_n"] = ratio
    print(f"peak RSS 2N / N = {ratio:.2f} (1.00 = flat)")
    if r2.get("rows") != gen2["rows"]:
        print(f"  <- ours stored {r2.get('rows')} rows of {gen2['rows']:,}")


def print_summary(report: dict) -> None:
    loads, m, gen = report.get("loads", {}), report["machine"], report["generate"]
    print("\n=== summary ===")
    print(
        f"objects: {report['objects']} x LOVAC-shaped CSV (26 columns, ';', Latin-1, uncompressed), {gen['rows']:,} rows, "
        f"{gen['bytes'] / 1e6:,.0f} MB; generated in {gen['seconds']:.1f} s, uploaded in {gen['upload_seconds']:.1f} s"
    )
    for key, r in loads.items():
        if "rows_per_s" in r:
            rss = f"{r['rss_mb']:6.0f} MB peak RSS" if r.get("rss_mb") is not None else ""
            print(
                f"{LABELS.get(key, key):<42} {r['mb_per_s']:7.1f} MB/s {r['rows_per_s']:>10,.0f} rows/s  "
                f"x{_fmt(r.get('x_floor'), '.2f')} floor  {rss}"
            )
        else:
            print(f"{LABELS.get(key, key):<42} {r.get('skipped') or 'FAILED'}")
    ours, pandas, floor = loads.get("ours", {}), loads.get("pandas_chunks", {}), loads.get("floor", {})
    x_floor, x_floor_cpu = ours.get("x_floor"), ours.get("x_floor_cpu")
    both = "rows_per_s" in pandas and "rows_per_s" in ours
    pandas_over_ours = pandas["seconds"] / ours["seconds"] if both else None
    pandas_over_ours_cpu = pandas["cpu_s"] / ours["cpu_s"] if both else None
    double = report.get("double", {}).get("ours_2x", {})
    rss_n, rss_2n = ours.get("rss_mb"), double.get("rss_mb") if "error" not in double else None
    report["targets"] = {
        "ours_x_floor": x_floor,
        "ours_x_floor_met": _verdict(x_floor, 1.5, at_most=True),
        "ours_x_floor_cpu": x_floor_cpu,
        "pandas_over_ours": pandas_over_ours,
        "pandas_over_ours_met": _verdict(pandas_over_ours, 3, at_most=False),
        "pandas_over_ours_cpu": pandas_over_ours_cpu,
        "ours_rss_mb_n": rss_n,
        "ours_rss_mb_2n": rss_2n,
    }
    if "seconds" in floor:
        fd, fr = loads["floor_download"], loads["floor_read"]
        print(
            f"floor: download {fd['seconds']:.2f} s + read {fr['seconds']:.2f} s = {floor['seconds']:.2f} s "
            f"(CPU: {fd['cpu_s']:.1f} + {fr['cpu_s']:.1f} = {floor['cpu_s']:.1f} s)"
        )
    loads_1min = [r["load_1min"] for r in (*loads.values(), double) if "load_1min" in r]
    if loads_1min:
        report["load_1min_range"] = (min(loads_1min), max(loads_1min))
        busy = max(loads_1min) > m["cores"] + 1  # a method itself keeps about `cores` threads busy, the S3 server one more
        print(
            f"1-minute load average at the end of each method: {min(loads_1min):.1f} to {max(loads_1min):.1f} on {m['cores']} cores"
            + (": other processes competed, seconds are inflated (CPU seconds much less)" if busy else "")
        )
    print(
        f"ours x floor = {_fmt(x_floor, '.2f')} (target <= 1.5: {_verdict(x_floor, 1.5, True)}; "
        f"in CPU seconds {_fmt(x_floor_cpu, '.2f')}); "
        f"pandas / ours = {_fmt(pandas_over_ours, '.2f')} (target >= 3: {_verdict(pandas_over_ours, 3, False)}; "
        f"in CPU seconds {_fmt(pandas_over_ours_cpu, '.2f')}); "
        f"ours peak RSS {_fmt(rss_n, '.0f')} MB at N, {_fmt(rss_2n, '.0f')} MB at 2N"
        + (f" (2N/N = {rss_2n / rss_n:.2f})" if rss_n and rss_2n else "")
    )
    print(
        f"machine: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, Linux {m['kernel']}; Python {m['python']}; "
        f"DuckDB {m['duckdb']}; boto3 {m['boto3']}; moto {m['moto']}; pandas {m['pandas']}; pyarrow {m['pyarrow']}"
    )
    print(
        f"peak RSS is each child's ru_maxrss; it cannot read below the orchestrator's own {report['orchestrator_rss_mb']:.0f} MB "
        "(Linux carries the parent's RSS into a child's maxrss)"
    )


if __name__ == "__main__":
    sys.exit(main())
