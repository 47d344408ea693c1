"""The ingestion process killed (SIGKILL) in the middle of a full and of an incremental load.

The load runs in a child process against the real PostgreSQL; it is killed while PostgreSQL is
streaming the COPY to it. A reader polls the warehouse read-only meanwhile. The re-run must leave a
warehouse identical (row count and checksum) to an uninterrupted run into another file, and no
successful read may ever see a row count other than the table's before or after the load."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import psycopg
import pytest

from faults.conftest import pg, wh_one
from zlv_dwh import ingest_postgres as ip

pytestmark = pytest.mark.slow

ROWS = 1_000_000  # ~1.7 s to load on 2 cores: long enough to be killed mid-copy
INCLUDE = Path(__file__).resolve().parents[2] / "include"
CHILD = """
import json, sys
from pathlib import Path
from zlv_dwh import ingest_postgres as ip
a = json.loads(sys.argv[1])
ip.ingest_table(ip.TableSpec(**a["spec"], keep_unclassified=True), pg_dsn=a["dsn"], warehouse=Path(a["wh"]), run_id=a["run_id"], key=None,
                extension_dir=Path(a["ext"]))
"""


def _start_load(spec: dict, dsn: str, wh: Path, ext: Path, run_id: str) -> subprocess.Popen:
    args = json.dumps({"spec": spec, "dsn": dsn, "wh": str(wh), "ext": str(ext), "run_id": run_id})
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, args],
        env={"PYTHONPATH": str(INCLUDE), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_copy(admin_url: str, child: subprocess.Popen, timeout_s: float = 60) -> None:
    """Until PostgreSQL streams a COPY to the loader (what the DuckDB postgres extension reads with)."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(admin_url, autocommit=True) as con:
        while time.monotonic() < deadline:
            busy = con.execute(
                "select count(*) from pg_stat_activity where application_name = 'zlv_fault_loader' "
                "and state = 'active' and query ilike 'copy%' and query like '%label%'"
            ).fetchone()[0]
            if busy:
                return
            if child.poll() is not None:
                raise AssertionError(f"the load ended before its copy was seen: {child.stdout.read()[-2000:]}")
            time.sleep(0.02)
    raise AssertionError("no COPY seen in pg_stat_activity")


class Reader(threading.Thread):
    """Polls the table's row count read-only; a read refused because a writer holds the file is
    not an observation (DuckDB lets no reader in beside a writer process)."""

    def __init__(self, wh: Path, table: str):
        super().__init__(daemon=True)
        self.wh, self.table, self.seen, self.refused = wh, table, [], 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                with duckdb.connect(str(self.wh), read_only=True) as con:
                    self.seen.append(con.execute(f"select count(*) from raw_production.{self.table}").fetchone()[0])
            except duckdb.Error:
                self.refused += 1
            time.sleep(0.01)

    def reads_after(self, n: int, timeout_s: float = 30) -> None:
        """Let the reader succeed `n` more times (the writer is gone), then stop it."""
        target, deadline = len(self.seen) + n, time.monotonic() + timeout_s
        while len(self.seen) < target and time.monotonic() < deadline:
            time.sleep(0.02)
        self.stop.set()
        self.join()


def _kill_mid_copy(fault_db, spec, loader_dsn, wh, ext) -> Reader:
    child = _start_load(spec, loader_dsn, wh, ext, "killed")
    _wait_for_copy(fault_db, child)
    reader = Reader(wh, spec["name"])
    reader.start()
    time.sleep(0.1)  # rows are flowing into the new table
    child.send_signal(signal.SIGKILL)
    output = child.communicate(timeout=30)[0]
    assert child.returncode == -signal.SIGKILL, f"the load was not killed mid-copy: {output[-2000:]}"
    reader.reads_after(5)
    left = {p.name: oct(p.stat().st_mode & 0o777) for p in wh.parent.glob(f"{wh.name}*")}
    assert all(mode == "0o600" for mode in left.values()), f"files left by the killed writer must stay private: {left}"
    return reader


def _rerun(spec, loader_dsn, wh, ext) -> str:
    child = _start_load(spec, loader_dsn, wh, ext, "rerun")
    output = child.communicate(timeout=120)[0]
    assert child.returncode == 0, output[-2000:]
    return output


def fingerprint(wh: Path, table: str) -> tuple[int, str]:
    """(rows, checksum over every column but the load time): equal fingerprints, equal tables."""
    with duckdb.connect(str(wh), read_only=True) as con:
        columns = [r[0] for r in con.execute(f"describe raw_production.{table}").fetchall() if r[0] != "_loaded_at"]
        row = con.execute(f"select count(*), sum(hash({', '.join(columns)}))::varchar from raw_production.{table}").fetchone()
    return row[0], row[1]


def _load(spec, dsn, wh, ext, run_id="ref"):
    return ip.ingest_table(
        ip.TableSpec(**spec, keep_unclassified=True), pg_dsn=dsn, warehouse=wh, run_id=run_id, key=None, extension_dir=ext
    )


def test_sigkill_mid_full_load_then_rerun_equals_an_uninterrupted_run(fault, fault_db, loader_dsn, tmp_path, ext):
    spec = {"name": "kill_full", "primary_key": ["id"]}
    pg(
        fault_db,
        "drop table if exists kill_full",
        "create table kill_full (id bigint primary key, label text, amount numeric(12,2), flag boolean, updated_at timestamptz)",
        "insert into kill_full select i, 'label ' || i, i * 1.5, i % 2 = 0, '2026-01-01'::timestamptz + i * interval '1 s' "
        "from generate_series(1, 1000) i",
    )
    wh, reference = tmp_path / "wh.duckdb", tmp_path / "reference.duckdb"
    fault.watch(wh)
    old = _load(spec, loader_dsn, wh, ext, "before").rows_loaded
    pg(
        fault_db,
        "insert into kill_full select i, 'label ' || i, i * 1.5, i % 2 = 0, '2026-01-01'::timestamptz + i * interval '1 s' "
        f"from generate_series(1001, {ROWS}) i",
    )
    new = _load(spec, loader_dsn, reference, ext).rows_loaded

    fault.inject("SIGKILL mid full load")
    reader = _kill_mid_copy(fault_db, spec, loader_dsn, wh, ext)
    fault.partial_tables_seen += sum(1 for n in reader.seen if n not in (old, new))
    assert reader.seen and set(reader.seen) == {old}, "after the kill the previous table is whole"
    assert wh_one(wh, "select count(*) from ops.load_log where run_id = 'killed'") == (0,)

    fault.watch_text(_rerun(spec, loader_dsn, wh, ext))
    fault.rows_lost += max(0, new - fingerprint(wh, "kill_full")[0])
    assert fingerprint(wh, "kill_full") == fingerprint(reference, "kill_full")
    assert wh_one(wh, "select status from ops.load_log where run_id = 'rerun'") == ("success",)


def test_sigkill_mid_incremental_load_then_rerun_equals_an_uninterrupted_run(fault, fault_db, loader_dsn, tmp_path, ext):
    spec = {"name": "kill_incr", "primary_key": ["id"], "mode": "incremental", "watermark": "updated_at"}
    pg(
        fault_db,
        "drop table if exists kill_incr",
        "create table kill_incr (id bigint primary key, label text, amount numeric(12,2), updated_at timestamptz not null)",
        "insert into kill_incr select i, 'label ' || i, i * 1.5, '2026-01-01'::timestamptz + i * interval '1 s' "
        f"from generate_series(1, {ROWS // 2}) i",
    )
    wh, reference = tmp_path / "wh.duckdb", tmp_path / "reference.duckdb"
    fault.watch(wh)
    old = _load(spec, loader_dsn, wh, ext, "before").rows_loaded
    _load(spec, loader_dsn, reference, ext, "before")
    watermark = "select watermark from ops.watermarks where table_name = 'kill_incr'"
    watermark_before = wh_one(wh, watermark)
    # A big delta: half the rows changed, as many new ones.
    pg(
        fault_db,
        "update kill_incr set amount = amount + 1, label = label || ' v2', updated_at = now() where id % 2 = 0",
        f"insert into kill_incr select i, 'label ' || i, i * 1.5, now() from generate_series({ROWS // 2 + 1}, {ROWS}) i",
    )
    new = _load(spec, loader_dsn, reference, ext).rows_loaded

    fault.inject("SIGKILL mid incremental load")
    reader = _kill_mid_copy(fault_db, spec, loader_dsn, wh, ext)
    fault.partial_tables_seen += sum(1 for n in reader.seen if n not in (old, new))
    assert reader.seen and set(reader.seen) == {old}
    assert wh_one(wh, watermark) == watermark_before, "the watermark did not move"

    fault.watch_text(_rerun(spec, loader_dsn, wh, ext))
    fault.rows_lost += max(0, new - fingerprint(wh, "kill_incr")[0])
    assert fingerprint(wh, "kill_incr") == fingerprint(reference, "kill_incr")
    assert wh_one(wh, watermark) == wh_one(reference, watermark)
