"""File ingestion benchmark: ours (zlv_dwh.ingest_files) against the download + read floor and pandas.

One run generates LOVAC-shaped CSV objects (the `lovac` dataset of include/config/file_families.yml:
its columns and types, ';', Latin-1 or with --cp1252 really Windows-1252, uncompressed; one object
per millésime; --extra-columns undeclared columns after them, --duplicate-share lines repeating an
earlier ff_idlocal) on a local S3-compatible server (moto, started through zlv_dwh.demo.services),
then loads those same objects with every method, each in its own child process (bench/childproc.py):
a method's peak RSS is the ru_maxrss that os.wait4 returns for its child, so this orchestrator
imports only light stdlib modules.

    python bench/bench_files_ingest.py [--mb 1024] [--objects 4] [--double] [--keep] [--methods ...]
        [--extra-columns 124] [--duplicate-share 0.002] [--cp1252]
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
# --cp1252: values with characters Windows-1252 has and Latin-1 has not (’ œ Œ € in 0x80-0x9F), added
# to the lists above, so that the file is really Windows-1252 (DuckDB's built-in latin-1 refuses it).
COMMUNES_1252 = ["Saint-Jean-d’Angély", "L’Haÿ-les-Roses", "Vœuil-et-Giget", "Villeneuve-d’Ascq"]
SURNAMES_1252 = ["CŒUR", "D’ARTAGNAN", "LŒUILLET"]
FIRST_NAMES_1252 = ["ŒDIPE", "JOSÉ-MARÍA"]
STREETS_1252 = ["RUE DE L’ŒUVRE", "IMPASSE DU SACRÉ-CŒUR", "QUAI D’ORSAY", "CHEMIN DE L’ÉCLUSE"]
# Text of the undeclared owner-name columns (ff_ddenom_3..6): companies, some with ’ œ € (--cp1252).
COMPANIES = ["SCI DES LILAS", "SARL IMMO-SUD", "SCI FAMILLE MÉNARD", "INDIVISION GARÇON", "SCI LES CHÊNES", "SAS HABITAT"]
COMPANIES_1252 = ["SCI L’ŒILLET", "SARL CŒUR DE VILLE", "SCI AU CAPITAL DE 1 000 €", "SCI D’ANGÉLY"]

# One row per value of i in range(rows); every column of the lovac contract, in file order, from a
# hash of i (deterministic, vectorised: no Python row loop).
GENERATE_SQL = """
with lines as (
    -- k: the line whose ff_idlocal this line carries: itself, or (--duplicate-share) an earlier one
    select i, case when i > 0 and hash(i * 131 + 5 + {seed}) % 1000000 < {dup_ppm}
                   then i - 1 - (hash(i * 137 + 11 + {seed}) % least(i, 100000))::bigint else i end as k
    from range({rows}) t(i)
), base as (
    select i, k, hash(i + {seed}) as h, hash(i * 31 + 7 + {seed}) as g,
           lpad((1 + hash(k + {seed}) % 95)::varchar, 2, '0') as dep,
           lpad((1 + (hash(k + {seed}) >> 7) % 899)::varchar, 3, '0') as com
    from lines
)
select
    {millesime} as annee,
    {millesime} - 1 as ff_millesime,
    lpad((h % 10000000000)::varchar, 10, '0') as invariant,
    dep || com || lpad(k::varchar, 9, '0') as ff_idlocal,
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
    dep || com || ' ' || upper({communes}[1 + (h % {n_communes})::int]) as adresse2{extra}
from base
"""

# --extra-columns: columns the contract does not declare, after its 26 (LOVAC-like names: the owner
# columns repeated for ranks 1..6 and building / parcel / address details). (name, DuckDB type,
# SQL of the value from x, the column's own hash of the row number; {lists} as in GENERATE_SQL)
# and the share of empty values (%); for ranked columns the share grows with the rank as in the
# real file, where few dwellings have 3+ owners.
RANK_EMPTY_PCT = (0, 50, 80, 92, 96, 98)
EXTRA_SCALAR = [
    ("ff_dteloc", "INTEGER", "1 + (x >> 8) % 2", 0),
    ("ff_cconlc", "VARCHAR", "['MA', 'AP', 'DE', 'MM', 'CM'][1 + ((x >> 8) % 5)::int]", 0),
    ("ff_dnbniv", "INTEGER", "(x >> 8) % 12", 5),
    ("ff_dnbpdc", "INTEGER", "1 + (x >> 8) % 9", 5),
    ("ff_dnbbai", "INTEGER", "(x >> 8) % 3", 10),
    ("ff_dnbdou", "INTEGER", "(x >> 8) % 3", 10),
    ("ff_dnblav", "INTEGER", "(x >> 8) % 3", 10),
    ("ff_dnbwc", "INTEGER", "(x >> 8) % 3", 10),
    ("ff_dnbppr", "INTEGER", "(x >> 8) % 9", 10),
    ("ff_dnbsam", "INTEGER", "(x >> 8) % 3", 10),
    ("ff_dnbcha", "INTEGER", "(x >> 8) % 7", 10),
    ("ff_slocal", "INTEGER", "10 + (x >> 8) % 400", 0),
    ("ff_spevtot", "INTEGER", "10 + (x >> 8) % 300", 5),
    ("ff_jdatat", "VARCHAR", "lpad((1 + (x >> 8) % 28)::varchar, 2, '0') || lpad((1 + (x >> 13) % 12)::varchar, 2, '0') || (1950 + (x >> 17) % 74)::varchar", 20),
    ("ff_ctpdl", "VARCHAR", "['TP', 'CL', 'CV', 'BND'][1 + ((x >> 8) % 4)::int]", 85),
    ("ff_dnatpr", "VARCHAR", "['PHY', 'SCI', 'CLL', 'HLM'][1 + ((x >> 8) % 4)::int]", 30),
    ("ff_ccogrb", "INTEGER", "(x >> 8) % 10", 40),
    ("ff_dcapec", "INTEGER", "1 + (x >> 8) % 8", 10),
    ("ff_dnvoiri", "VARCHAR", "(1 + (x >> 8) % 250)::varchar", 5),
    ("ff_dindic", "VARCHAR", "['B', 'T', 'Q'][1 + ((x >> 8) % 3)::int]", 90),
    ("ff_cconvo", "VARCHAR", "['RUE', 'AV', 'BD', 'CHE', 'IMP', 'PL'][1 + ((x >> 8) % 6)::int]", 5),
    ("ff_dvoilib", "VARCHAR", "{streets}[1 + ((x >> 8) % {n_streets})::int]", 5),
    ("ff_idbat", "VARCHAR", "lpad(((x >> 8) % 100000000)::varchar, 8, '0')", 0),
    ("ff_idpar", "VARCHAR", "lpad(((x >> 8) % 10000000000)::varchar, 10, '0')", 0),
    ("ff_ccosec", "VARCHAR", "chr(65 + ((x >> 8) % 26)::int) || chr(65 + ((x >> 13) % 26)::int)", 0),
    ("ff_dnupla", "INTEGER", "1 + (x >> 8) % 3000", 0),
    ("ff_x", "BIGINT", "100000 + (x >> 8) % 1100000", 2),
    ("ff_y", "BIGINT", "6000000 + (x >> 8) % 1100000", 2),
    ("ban_score", "INTEGER", "30 + (x >> 8) % 70", 5),
    ("ban_postcode", "VARCHAR", "lpad(((x >> 8) % 96000)::varchar, 5, '0')", 5),
    ("ff_ccthp_prec", "VARCHAR", "['V', 'L', 'P', 'B', 'T'][1 + ((x >> 8) % 5)::int]", 30),
    ("vlcad_prec", "INTEGER", "100 + (x >> 8) % 8000", 30),
    ("debutvacance_prec", "INTEGER", "2000 + (x >> 8) % 24", 40),
    ("ff_nb_proprio", "INTEGER", "1 + (x >> 8) % 6", 0),
]  # fmt: skip
EXTRA_RANKED = [
    ("ff_dnupro", "VARCHAR", "chr(65 + ((x >> 8) % 26)::int) || lpad(((x >> 13) % 100000)::varchar, 5, '0')"),
    ("ff_ccogrm", "INTEGER", "(x >> 8) % 10"),
    ("ff_ccodro", "VARCHAR", "['P', 'U', 'N', 'G', 'B'][1 + ((x >> 8) % 5)::int]"),
    ("ff_dqualp", "VARCHAR", "['M', 'MME', 'MLE'][1 + ((x >> 8) % 3)::int]"),
    ("ff_dnomus", "VARCHAR", "{surnames}[1 + ((x >> 8) % {n_surnames})::int]"),
    ("ff_dprnus", "VARCHAR", "{first_names}[1 + ((x >> 8) % {n_first})::int]"),
    ("ff_ddenom", "VARCHAR", "{companies}[1 + ((x >> 8) % {n_companies})::int]"),
    ("ff_dlign3", "VARCHAR", "'BAT ' || chr(65 + ((x >> 8) % 6)::int)"),
    ("ff_dlign4", "VARCHAR", "(1 + (x >> 8) % 180)::varchar || ' ' || {streets}[1 + ((x >> 16) % {n_streets})::int]"),
    ("ff_dlign6", "VARCHAR", "lpad(((x >> 8) % 96000)::varchar, 5, '0') || ' ' || upper({communes}[1 + ((x >> 24) % {n_communes})::int])"),
    ("ff_ccodem", "VARCHAR", "['C', 'V', 'D', 'X'][1 + ((x >> 8) % 4)::int]"),
    ("ff_dformjur", "VARCHAR", "['SCI', 'SARL', 'SAS', 'SA'][1 + ((x >> 8) % 4)::int]"),
    ("ff_locprop", "INTEGER", "1 + (x >> 8) % 6"),
    ("ff_dsiren", "VARCHAR", "lpad(((x >> 8) % 1000000000)::varchar, 9, '0')"),
    ("ff_catpro2", "VARCHAR", "['PA', 'PF', 'GI', 'SC'][1 + ((x >> 8) % 4)::int]"),
    ("ff_catpro3", "VARCHAR", "['PAA', 'PFA', 'GIB', 'SCI'][1 + ((x >> 8) % 4)::int]"),
]  # fmt: skip
# ff_ddenom_1/2 are declared; the generated ranked ff_ddenom columns start at rank 3.
RANKED_FROM = {"ff_ddenom": 3}


def extra_columns(n: int) -> list[tuple[str, str, str, int]]:
    """The first n undeclared columns: (name, type, value SQL, % empty); generic extra_<n> beyond the list."""
    out = list(EXTRA_SCALAR)
    for rank in range(1, 7):
        for name, kind, value in EXTRA_RANKED:
            if rank >= RANKED_FROM.get(name, 1):
                out.append((f"{name}_{rank}", kind, value, RANK_EMPTY_PCT[rank - 1]))
    out = out[:n]
    out += [(f"extra_{j + 1}", "VARCHAR" if j % 2 else "INTEGER", "(x >> 8) % 100000", 50) for j in range(n - len(out))]
    return out


def extra_sql(columns: list[tuple[str, str, str, int]]) -> str:
    """The select items of the extra columns; column c's values come from hash(i * (2c + 101) + c + seed)."""
    items = []
    for c, (name, kind, value, empty) in enumerate(columns):
        x = f"hash(i * {2 * c + 101} + {c} + {{seed}})"
        if "(x >>" not in value:
            raise ValueError(f"extra column {name}: its value must use bits of x as (x >> n)")
        cast = f"({value.replace('(x >>', f'({x} >>')})::{kind}"
        items.append(
            f",\n    case when {x} % 100 < {empty} then null else {cast} end as {name}" if empty else f",\n    {cast} as {name}"
        )
    return "".join(items)


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
    """UTF-8 (what DuckDB writes) to `encoding` (latin-1, or cp1252 with --cp1252), in 16 M-character blocks."""
    with src.open(encoding="utf-8", newline="") as fin, dst.open("w", encoding=encoding, newline="") as fout:
        while block := fin.read(16 * 1024 * 1024):
            fout.write(block)


def generate_sql(p: dict, rows: int, millesime: int, seed: int) -> str:
    """The SELECT of one object's lines: the 26 contract columns, then p["extra_columns"] undeclared
    ones; ff_idlocal repeated on about p["duplicate_share"] of the lines; with p["cp1252"] the
    value lists include ’ œ € values."""
    cp = p.get("cp1252", False)
    lists = {
        "communes": COMMUNES + (COMMUNES_1252 if cp else []),
        "surnames": SURNAMES + (SURNAMES_1252 if cp else []),
        "first_names": FIRST_NAMES + (FIRST_NAMES_1252 if cp else []),
        "streets": STREETS + (STREETS_1252 if cp else []),
        "companies": COMPANIES + (COMPANIES_1252 if cp else []),
    }
    names = {k: _sql_list(v) for k, v in lists.items()}
    names.update(
        n_communes=len(lists["communes"]),
        n_surnames=len(lists["surnames"]),
        n_first=len(lists["first_names"]),
        n_streets=len(lists["streets"]),
        n_companies=len(lists["companies"]),
    )
    template = GENERATE_SQL.replace("{extra}", extra_sql(extra_columns(p.get("extra_columns", 0))))
    dup_ppm = round(p.get("duplicate_share", 0.0) * 1_000_000)
    return template.format(rows=rows, millesime=millesime, seed=seed, dup_ppm=dup_ppm, **names)


def child_generate(p: dict) -> dict:
    """Write the objects' CSV files: DuckDB COPY TO (UTF-8), then transcoded to Latin-1 (cp1252 with
    --cp1252). Rows per object from a calibration sample, so that the objects total at least
    p["mb"] MB; each object's distinct ff_idlocal counted (the rows a load keeping one line per key stores)."""
    import duckdb

    ds = _lovac()
    folder = Path(p["gen_dir"])
    folder.mkdir(parents=True, exist_ok=True)
    encoding = "cp1252" if p.get("cp1252") else "latin-1"
    options = f"(format csv, header true, delimiter '{ds.delimiter}', quote '{ds.quote}')"

    def write(con, rows: int, millesime: int, seed: int, path: Path) -> None:
        utf8 = path.with_suffix(".utf8.csv")
        con.execute(f"copy ({generate_sql(p, rows, millesime, seed)}) to '{utf8}' {options}")
        _transcode(utf8, path, encoding)
        utf8.unlink()

    started = time.perf_counter()
    objects = []
    with duckdb.connect() as con:
        described = con.execute(f"describe {generate_sql(p, 1, 2000, 0)}").fetchall()
        file_columns = [(row[0], row[1]) for row in described]
        header = [name for name, _ in file_columns]
        declared = list(ds.columns)
        if header[: len(declared)] != declared or set(header[len(declared) :]) & set(declared):
            raise RuntimeError(f"generated columns {header[: len(declared)]} differ from the lovac contract {declared}")
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
            keys = con.execute(
                f"select count(distinct ff_idlocal) from ({generate_sql(p, rows, millesime, n * 7919)})"
            ).fetchone()[0]
            objects.append(
                {
                    "key": KEY_PATTERN.format(millesime=millesime),
                    "path": str(path),
                    "rows": rows,
                    "keys": keys,
                    "bytes": path.stat().st_size,
                }
            )
    return {
        "seconds": time.perf_counter() - started,
        "objects": objects,
        "bytes_per_row": bytes_per_row,
        "file_columns": file_columns,
        "encoding": encoding,
    }


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


def _floor_encoding(p: dict, con) -> str:
    """The encoding a plain DuckDB read gives these files: latin-1 (built in), or for --cp1252 files
    cp1252 from DuckDB's encodings extension: the built-in latin-1 refuses every byte in 0x80-0x9F
    ("File is not latin-1 encoded", DuckDB 1.5.5), so it cannot read a real Windows-1252 file. The
    extension comes from the PyPI package duckdb-extension-encodings (not a project dependency:
    put it on PYTHONPATH, see bench/README.md); loaded before the timing starts."""
    if p["encoding"] != "cp1252":
        return "latin-1"
    try:
        import duckdb_extension_encodings  # the extension file inside the package, loaded where it is

        version = con.execute("pragma version").fetchone()[0]
        path = Path(duckdb_extension_encodings.__file__).parent / "extensions" / version / "encodings.duckdb_extension"
        con.execute(f"load '{path}'")
    except Exception as exc:
        raise RuntimeError(
            "--cp1252 files: DuckDB's built-in latin-1 refuses bytes 0x80-0x9F, and the encodings extension "
            f"could not be loaded ({type(exc).__name__}: {str(exc)[:200]}); e.g. pip install --target "
            "/tmp/zlv-bench-encodings duckdb-extension-encodings==<duckdb version>, then PYTHONPATH=include:/tmp/zlv-bench-encodings"
        ) from None
    return "cp1252"


def child_floor_read(p: dict) -> dict:
    """The read half of the floor: DuckDB read_csv of the local copies, with every column of the file
    (the contract's and the undeclared ones, with their generated types) and the contract's dialect
    (nothing sniffed, every column stored), into a table of a fresh DuckDB file."""
    import duckdb

    ds = _lovac()

    def lit(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    columns = "{" + ", ".join(f"{lit(c)}: {lit(t)}" for c, t in p["file_columns"]) + "}"
    files = "[" + ", ".join(lit(path) for path in p["paths"]) + "]"
    with duckdb.connect(p["db"], config={"extension_directory": p["extension_dir"]}) as con:
        encoding = _floor_encoding(p, con)
        options = (
            f"header = true, delim = {lit(ds.delimiter)}, quote = {lit(ds.quote)}, encoding = {lit(encoding)}, "
            f"compression = {lit(ds.compression)}, auto_detect = false, columns = {columns}"
        )
        started = _clock()
        # The fastest plain settings: no insertion-order bookkeeping (measured: 18.6 s instead of
        # 21.7 s for 1 GB here); DuckDB's default memory limit (80% of RAM) and threads.
        con.execute("set preserve_insertion_order = false")
        con.execute(f"create table t as select * from read_csv({files}, {options})")
        rows = con.execute("select count(*) from t").fetchone()[0]
        timing = _since(started)
        check = _decoding_check(con, "t")
    return {**timing, "rows": rows, "encoding": encoding, "columns": len(p["file_columns"]), "decoding": check}


def _decoding_check(con, table: str) -> dict:
    """Rows whose commune holds a Windows-1252-only character decoded right (’ œ Œ), or decoded as a C1
    control character (what reading Windows-1252 bytes as Latin-1 gives): not timed."""
    right, c1 = con.execute(
        f"select count(*) filter (where regexp_matches(commune, '[’œŒ]')), "
        f"count(*) filter (where regexp_matches(commune, '[\\x{{80}}-\\x{{9f}}]')) from {table}"
    ).fetchone()
    return {"cp1252_chars": right, "c1_controls": c1}


def _statement_kind(sql: str) -> str | None:
    """What a statement of _replace_rows does, from its text; None: not timed on its own (the few
    small ones, and those of _duplicates, which is timed as a whole)."""
    text = " ".join(str(sql).split()).lower()
    if "group by all having count(*) > 1" in text:
        return "key check across the millésime"
    if text.startswith("delete from ") and "_source_record in (" in text:
        return "repeated keys: delete all but the kept line"
    for prefix, kind in (
        ("select byte_position", "rejects"),
        ("delete from ops.", "manifest and load log"),
        ("insert into ops.", "manifest and load log"),
        ("delete from ", "delete the object's previous rows"),
        ("insert into ", "read_csv + HMAC -> target (one pass)"),
        ("commit", "commit"),
    ):
        if text.startswith(prefix):
            return kind
    return None


# The phases printed, in this order ("  " = part of the phase above).
PHASE_ORDER = (
    "list_objects",
    "download",
    "prepare (compression, encoding, header)",
    "  _transcode_windows_1252",
    "map_columns",
    "replace_rows",
    "  delete the object's previous rows",
    "  read_csv + HMAC -> target (one pass)",
    "  rejects",
    "  _duplicates (repeated keys: count, examples, their lines)",
    "  repeated keys: delete all but the kept line",
    "  key check across the millésime",
    "  manifest and load log",
    "  commit",
)


class _TimedConnection:
    """The warehouse connection, its execute timed by what the statement does; everything else passed
    through unchanged (a measuring proxy: the statements and their order are ingest_files' own)."""

    def __init__(self, con, add):
        self._con, self._add = con, add

    def __getattr__(self, name):
        return getattr(self._con, name)

    def execute(self, sql, *args, **kwargs):
        kind = _statement_kind(sql)
        if kind is None:
            return self._con.execute(sql, *args, **kwargs)
        t0, c0 = _clock()
        try:
            return self._con.execute(sql, *args, **kwargs)
        finally:
            self._add("  " + kind, time.perf_counter() - t0, time.process_time() - c0)


def child_ours(p: dict) -> dict:
    """ingest_family of a family holding just the lovac dataset, into a fresh warehouse. The phases
    (download, prepare and its Windows-1252 transcode, column mapping, replace rows and its statements)
    are timed by wrapping ingest_files' own functions and the connection's execute, without changing them."""
    from contextlib import contextmanager

    from zlv_dwh import ingest_files as fi

    phases: dict[str, float] = {}
    phases_cpu: dict[str, float] = {}

    def add(name: str, seconds: float, cpu: float) -> None:
        phases[name] = phases.get(name, 0.0) + seconds
        phases_cpu[name] = phases_cpu.get(name, 0.0) + cpu

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0, c0 = _clock()
            try:
                return fn(*args, **kwargs)
            finally:
                add(name, time.perf_counter() - t0, time.process_time() - c0)

        return wrapper

    real_connect = fi.connect

    @contextmanager
    def timed_connect(*args, **kwargs):
        with real_connect(*args, **kwargs) as con:
            yield _TimedConnection(con, add)

    fi.connect = timed_connect
    fi.download = timed("download", fi.download)
    fi.prepare = timed("prepare (compression, encoding, header)", fi.prepare)
    fi._transcode_windows_1252 = timed("  _transcode_windows_1252", fi._transcode_windows_1252)
    fi.map_columns = timed("map_columns", fi.map_columns)
    fi._replace_rows = timed("replace_rows", fi._replace_rows)
    fi._duplicates = timed("  _duplicates (repeated keys: count, examples, their lines)", fi._duplicates)
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
        check = _decoding_check(con, f"raw_{FAMILY}.{DATASET}")
        manifest = con.execute("select object_key, encoding, reason from ops.file_manifest order by object_key").fetchall()
    statuses = [o.status for o in report.outcomes]
    return {
        **timing,
        "rows": stored,
        "expected_rows": sum(o["keys"] for o in p["objects"]),
        "rows_reported": sum(o.rows or 0 for o in report.outcomes),
        "malformed": sum(o.malformed for o in report.outcomes),
        "statuses": statuses,
        "phases": {k: phases[k] for k in PHASE_ORDER if k in phases},
        "phases_cpu": {k: phases_cpu[k] for k in PHASE_ORDER if k in phases_cpu},
        "decoding": check,
        "manifest": [{"key": k, "encoding": e, "reason": (r or "")[:600]} for k, e, r in manifest],
    }


def child_pandas_chunks(p: dict) -> dict:
    """Peer: the naive pandas route: get_object Body -> read_csv in chunks (dtypes of every file column:
    the contract's and the generated ones) -> each chunk registered and inserted into DuckDB. Every
    column kept, none pseudonymised, repeated keys kept."""
    try:
        import duckdb
        import pandas as pd
    except ImportError as exc:
        return {"skipped": f"{exc.name} not installed ({INSTALL_HINT})"}
    import boto3

    ds = _lovac()
    dtypes = {c: {"INTEGER": "Int32", "BIGINT": "Int64", "DOUBLE": "float64"}.get(t, "str") for c, t in p["file_columns"]}
    encoding = p["encoding"]
    client = boto3.client(
        "s3", endpoint_url=p["s3_url"], aws_access_key_id=p["s3_access_key"], aws_secret_access_key=p["s3_secret_key"]
    )
    rows = 0
    started = _clock()
    with duckdb.connect(p["db"]) as con:
        for obj in p["objects"]:
            body = client.get_object(Bucket=p["bucket"], Key=obj["key"])["Body"]
            for chunk in pd.read_csv(body, sep=ds.delimiter, encoding=encoding, chunksize=100_000, dtype=dtypes):
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
        "--extra-columns",
        type=int,
        default=0,
        help="undeclared columns appended after the 26 of the contract (LOVAC-like names, VARCHAR and integers; "
        "the real file has ~150 columns in all: 124); ours never reads them, the floor reads them all (default 0)",
    )
    parser.add_argument(
        "--duplicate-share",
        type=float,
        default=0.0,
        help="share of the lines repeating an earlier line's ff_idlocal (real millésimes: 0.0004-0.0025); "
        "ours keeps one line per key (default 0)",
    )
    parser.add_argument(
        "--cp1252",
        action="store_true",
        help="some text values hold ’ œ Œ € (0x80-0x9F): the files are really Windows-1252, not Latin-1; "
        "the floor then needs DuckDB's encodings extension (see bench/README.md)",
    )
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
    if args.extra_columns < 0 or not 0 <= args.duplicate_share < 0.5:
        parser.error("--extra-columns must be >= 0 and --duplicate-share in [0, 0.5)")
    peer_python = args.peer_python or (str(SEPARATE_VENV_PYTHON) if SEPARATE_VENV_PYTHON.exists() else sys.executable)
    stamp = utc_stamp()
    workdir = (args.workdir or Path(os.environ.get("TMPDIR", "/tmp"))) / f"zlv-bench-files-{stamp}-{os.getpid()}"
    workdir.mkdir(parents=True)
    runner = Runner(Path(__file__), workdir, {"bucket": BUCKET}, args.timeout, peer_python)
    info = machine_info(runner, peer_python, ("pandas", "pyarrow"))
    report: dict = {
        "started_utc": stamp,
        "command": " ".join(sys.argv),
        "mb": args.mb,
        "objects": args.objects,
        "extra_columns": args.extra_columns,
        "duplicate_share": args.duplicate_share,
        "cp1252": args.cp1252,
        "machine": info,
        "methods": methods,
    }
    print(
        f"ZLV file ingestion benchmark: {args.objects} LOVAC-shaped objects, {args.mb:,.0f} MB in all, "
        f"26 + {args.extra_columns} columns, {args.duplicate_share:.2%} repeated ff_idlocal, "
        f"{'Windows-1252 (cp1252-only bytes)' if args.cp1252 else 'Latin-1'}; {info['cores']} cores, "
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
        file_info = {"file_columns": gen["file_columns"], "encoding": gen["encoding"]}
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
            loads["floor_read"] = runner.run(
                "floor_read", paths=local["paths"], db=str(db), extension_dir=str(workdir / "extensions"), **file_info
            )
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
            loads["pandas_chunks"] = runner.run("pandas_chunks", python=peer_python, objects=objects, db=str(db), **file_info)
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
        print_phases(ours)
        for key in ("floor_read", "ours"):
            if "decoding" in loads.get(key, {}):
                d = loads[key]["decoding"]
                print(
                    f"{key}: commune values with ’ œ Œ decoded right {d['cp1252_chars']:,}, decoded as C1 control "
                    f"characters {d['c1_controls']:,}"
                    + (f" (read as {loads[key]['encoding']})" if "encoding" in loads[key] else "")
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


def print_phases(ours: dict) -> None:
    """Our seconds / CPU seconds per phase; indented lines are parts of the phase above them."""
    if "phases" not in ours:
        return
    phases, cpu = ours["phases"], ours["phases_cpu"]
    top = [k for k in phases if not k.startswith("  ")]
    rest, rest_cpu = ours["seconds"] - sum(phases[k] for k in top), ours["cpu_s"] - sum(cpu[k] for k in top)
    print("ours, where the time goes:                                seconds    CPU s")
    for k, v in phases.items():
        print(f"  {k:<62} {v:8.2f} {cpu[k]:8.2f}")
    print(f"  {'the rest (connections, listing, manifest, report)':<62} {rest:8.2f} {rest_cpu:8.2f}")


def make_objects(runner: Runner, workdir: Path, args, scale: int) -> tuple[list[dict] | None, dict]:
    """Generate the objects (scale x --mb in all), upload them to the bucket, remove the local files."""
    size = f"{scale * args.mb:,.0f} MB" if scale == 1 else f"{scale} x {args.mb:,.0f} MB"
    encoding = "cp1252" if args.cp1252 else "Latin-1"
    print(f"generating {args.objects} objects, {size} in all (DuckDB COPY TO, then {encoding}) ...", flush=True)
    gen_dir = workdir / f"gen_{scale}x"
    gen = runner.run(
        "generate",
        mb=args.mb,
        objects=args.objects,
        scale=scale,
        gen_dir=str(gen_dir),
        extra_columns=args.extra_columns,
        duplicate_share=args.duplicate_share,
        cp1252=args.cp1252,
    )
    if "error" in gen:
        return None, {"generate": gen}
    objects = gen["objects"]
    up = runner.run("upload", objects=objects)
    shutil.rmtree(gen_dir, ignore_errors=True)
    if "error" in up:
        return None, {"generate": gen, "upload": up}
    total = sum(o["bytes"] for o in objects)
    rows = sum(o["rows"] for o in objects)
    keys = sum(o["keys"] for o in objects)
    print(
        f"  generated in {gen['seconds']:.1f} s ({gen['bytes_per_row']:.0f} bytes/row, {len(gen['file_columns'])} columns), "
        f"uploaded in {up['seconds']:.1f} s ({total / 1e6 / up['seconds']:.0f} MB/s): {len(objects)} objects x "
        f"{objects[0]['rows']:,} lines = {rows:,} lines, {rows - keys:,} of them repeating an earlier ff_idlocal, "
        f"{total / 1e6:,.0f} MB ({total / 2**30:.2f} GiB)",
        flush=True,
    )
    for o in objects:
        print(f"    s3://{BUCKET}/{o['key']}  {o['bytes'] / 1e6:8.1f} MB  {o['rows']:,} lines, {o['keys']:,} keys", flush=True)
    return objects, {
        "seconds": gen["seconds"],
        "upload_seconds": up["seconds"],
        "objects": objects,
        "bytes": total,
        "rows": rows,
        "keys": keys,
        "bytes_per_row": gen["bytes_per_row"],
        "file_columns": gen["file_columns"],
        "encoding": gen["encoding"],
    }


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
    r2["mb"] = gen2["bytes"] / 1e6
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
    if r2.get("rows") != r2["expected_rows"]:
        print(f"  <- ours stored {r2.get('rows')} rows, expected {r2['expected_rows']:,} (lines less repeated keys)")
    print_phases(r2)


def print_summary(report: dict) -> None:
    loads, m, gen = report.get("loads", {}), report["machine"], report["generate"]
    print("\n=== summary ===")
    encoding = "Windows-1252 with cp1252-only bytes" if gen["encoding"] == "cp1252" else "Latin-1"
    print(
        f"objects: {report['objects']} x LOVAC-shaped CSV ({len(gen['file_columns'])} columns: 26 declared + "
        f"{len(gen['file_columns']) - 26} undeclared, ';', {encoding}, uncompressed), {gen['rows']:,} lines "
        f"({gen['rows'] - gen['keys']:,} repeating an earlier ff_idlocal: {gen['keys']:,} rows to store), "
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
    flat = rss_2n / rss_n if rss_n and rss_2n else None
    report["targets"] = {
        "ours_x_floor": x_floor,
        "ours_x_floor_met": _verdict(x_floor, 1.5, at_most=True),
        "ours_x_floor_national_met": _verdict(x_floor, 1.3, at_most=True),
        "ours_rss_1gb_met": _verdict(max(filter(None, (rss_n, rss_2n)), default=None), 1024, at_most=True),
        "ours_rss_flat_met": _verdict(flat, 1.10, at_most=True),
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
        f"ours x floor = {_fmt(x_floor, '.2f')} (target <= 1.5: {_verdict(x_floor, 1.5, True)}; national-size "
        f"target <= 1.3: {_verdict(x_floor, 1.3, True)}; "
        f"in CPU seconds {_fmt(x_floor_cpu, '.2f')}); "
        f"pandas / ours = {_fmt(pandas_over_ours, '.2f')} (target >= 3: {_verdict(pandas_over_ours, 3, False)}; "
        f"in CPU seconds {_fmt(pandas_over_ours_cpu, '.2f')}); "
        f"ours peak RSS {_fmt(rss_n, '.0f')} MB at N, {_fmt(rss_2n, '.0f')} MB at 2N"
        + (f" (2N/N = {flat:.2f})" if flat else "")
        + f" (target <= 1024 MB: {report['targets']['ours_rss_1gb_met']}; flat, 2N/N <= 1.10: "
        f"{report['targets']['ours_rss_flat_met']})"
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
