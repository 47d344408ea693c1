"""make backup / make restore: real DuckDB files, a real second process holding the write lock."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from zlv_dwh import backup
from zlv_dwh.settings import REPO_ROOT, Paths
from zlv_dwh.warehouse import WarehouseLockTimeout, connect

ROWS = 5000
# Holds the warehouse write lock (through the one connect helper) with a committed row still in
# the WAL, until a line arrives on stdin.
HOLDER = """
import sys
from pathlib import Path
from zlv_dwh.warehouse import connect
with connect(Path(sys.argv[1])) as con:
    con.execute("insert into raw.housing values (-1, 'written by the other process')")
    print("held", flush=True)
    sys.stdin.readline()
"""


def _table_digest(db: Path) -> tuple[int, str]:
    """Row count and an order-independent checksum of raw.housing."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("select count(*), md5(string_agg(id || ':' || label, ',' order by id)) from raw.housing").fetchone()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    """A warehouse with a table, and a published folder with the file, a snapshot (hard link) and an export."""
    paths = Paths(tmp_path / "data")
    with connect(paths.warehouse) as con:
        con.execute("create schema raw")
        con.execute(f"create table raw.housing as select range as id, 'logement ' || range as label from range({ROWS})")
    published = paths.published_marts
    published.parent.mkdir(parents=True)
    with duckdb.connect(str(published)) as con:
        con.execute("create table housing_geo as select 1 as n")
    os.chmod(published, 0o640)
    (published.parent / "snapshots").mkdir()
    os.link(published, published.parent / "snapshots" / "zlv_marts.20260101T000000Z_r1.duckdb")
    (published.parent / "exports" / "20260101T000000Z_r1").mkdir(parents=True)
    (published.parent / "exports" / "20260101T000000Z_r1" / "housing_geo.csv").write_text("n\n1\n")
    (published.parent / ".zlv_marts.duckdb.123.tmp").write_text("a publication in progress")
    return paths


@pytest.fixture
def settings(tmp_path: Path) -> backup.BackupSettings:
    return backup.BackupSettings(tmp_path / "backups", keep=3)


def _start_holder(db: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "include")}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def _release(holder: subprocess.Popen) -> None:
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert holder.wait(30) == 0


def test_backup_is_complete_private_and_checksummed(paths, settings):
    folder = backup.backup(paths, settings)
    manifest = backup.verify(folder)
    listed = {e["path"]: e for e in manifest["files"]}
    assert set(listed) == {
        "warehouse.duckdb",
        "published/zlv_marts.duckdb",
        "published/snapshots/zlv_marts.20260101T000000Z_r1.duckdb",
        "published/exports/20260101T000000Z_r1/housing_geo.csv",
    }, "the temporary file of a publication in progress must be left out"
    assert listed["warehouse.duckdb"]["sha256"] == _sha(folder / "warehouse.duckdb")
    assert _table_digest(folder / "warehouse.duckdb") == _table_digest(paths.warehouse)
    # The snapshot is a hard link in the backup too: one copy of the published file.
    snapshot = folder / "published/snapshots/zlv_marts.20260101T000000Z_r1.duckdb"
    assert snapshot.stat().st_ino == (folder / "published/zlv_marts.duckdb").stat().st_ino
    assert (settings.backup_dir.stat().st_mode & 0o777) == 0o700
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert ((folder / "warehouse.duckdb").stat().st_mode & 0o777) == 0o600
    assert ((folder / "published/zlv_marts.duckdb").stat().st_mode & 0o777) == 0o640
    assert ((folder / "MANIFEST.json").stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("harm", ["modified", "damaged"])
def test_restore_gives_back_the_rows_and_published_files(paths, settings, harm):
    before_rows = _table_digest(paths.warehouse)
    before_published = _sha(paths.published_marts)
    folder = backup.backup(paths, settings)

    if harm == "modified":
        with connect(paths.warehouse) as con:
            con.execute("delete from raw.housing where id % 3 = 0")
            con.execute("update raw.housing set label = 'changed' where id < 10")
        assert _table_digest(paths.warehouse) != before_rows
    else:
        with open(paths.warehouse, "r+b") as f:
            f.seek(0)
            f.write(os.urandom(64 * 1024))
        with pytest.raises(duckdb.Error):
            duckdb.connect(str(paths.warehouse), read_only=True).close()
    paths.published_marts.unlink()
    with duckdb.connect(str(paths.published_marts)) as con:
        con.execute("create table housing_geo as select 2 as n")
    harmed = _sha(paths.warehouse)

    backup.restore(folder, paths)

    assert _table_digest(paths.warehouse) == before_rows
    assert _sha(paths.published_marts) == before_published
    assert (paths.warehouse.stat().st_mode & 0o777) == 0o600
    aside = paths.warehouse.with_name("warehouse.duckdb.before-restore")
    assert _sha(aside) == harmed, "the replaced warehouse is kept aside, as it was"
    assert not list(paths.data_dir.rglob(".*restore-*")), "no staging file left behind"
    with connect(paths.warehouse) as con:  # the restored file is a working warehouse again
        con.execute("insert into raw.housing values (-2, 'after restore')")


@pytest.mark.parametrize("target", ["warehouse.duckdb", "published/zlv_marts.duckdb"])
def test_corrupted_backup_is_refused_and_nothing_is_touched(paths, settings, target):
    folder = backup.backup(paths, settings)
    with connect(paths.warehouse) as con:
        con.execute("insert into raw.housing values (-3, 'newer than the backup')")
    current = {p: _sha(p) for p in (paths.warehouse, paths.published_marts)}
    damaged = folder / target
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))

    with pytest.raises(backup.BackupCorrupt, match=target.replace(".", r"\.")):
        backup.restore(folder, paths)

    assert {p: _sha(p) for p in current} == current
    assert not paths.warehouse.with_name("warehouse.duckdb.before-restore").exists()
    assert not list(paths.data_dir.rglob(".*restore-*"))


def test_a_backup_with_a_file_too_many_or_missing_is_refused(paths, settings):
    folder = backup.backup(paths, settings)
    (folder / "published" / "intruder.csv").write_text("x")
    with pytest.raises(backup.BackupCorrupt, match="intruder.csv"):
        backup.verify(folder)
    (folder / "published" / "intruder.csv").unlink()
    (folder / "published" / "exports" / "20260101T000000Z_r1" / "housing_geo.csv").unlink()
    with pytest.raises(backup.BackupCorrupt, match="housing_geo.csv is missing"):
        backup.restore(folder, paths)


def test_retention_keeps_the_last_n(paths, settings):
    leftover = settings.backup_dir / f".{backup.PREFIX}20200101T000000000000Z.partial"
    leftover.mkdir(parents=True)
    made = [backup.backup(paths, settings) for _ in range(settings.keep + 2)]
    assert backup.list_backups(settings) == made[-settings.keep :]
    assert not leftover.exists(), "an interrupted backup's leftovers are cleaned"
    assert backup.resolve_backup(settings, "latest") == made[-1]


def test_backup_waits_for_a_writer_in_another_process(paths, settings):
    holder = _start_holder(paths.warehouse)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(folder=backup.backup(paths, settings, lock_timeout_s=120)))
    try:
        worker.start()
        worker.join(1.0)
        assert worker.is_alive(), "backup must not copy the warehouse while another process writes it"
        assert backup.list_backups(settings) == []
    finally:
        _release(holder)
    worker.join(120)
    count, _ = _table_digest(result["folder"] / "warehouse.duckdb")
    assert count == ROWS + 1, "the other writer's committed row (in its WAL then) is in the backup"


def test_backup_gives_up_when_the_lock_stays_held(paths, settings):
    holder = _start_holder(paths.warehouse)
    try:
        with pytest.raises(WarehouseLockTimeout, match="locked by another writer"):
            backup.backup(paths, settings, lock_timeout_s=0.5)
    finally:
        _release(holder)
    assert list(settings.backup_dir.iterdir()) == [], "no backup, not even a partial one"


def test_make_backup_and_make_restore(paths, settings):
    """The Makefile targets, as an operator runs them."""
    env = {
        **os.environ,
        "ZLV_DATA_DIR": str(paths.data_dir),
        "ZLV_BACKUP_DIR": str(settings.backup_dir),
        "ZLV_BACKUP_KEEP": "2",
    }
    env.pop("ZLV_WAREHOUSE_PATH", None)
    before = _table_digest(paths.warehouse)
    made = subprocess.run(["make", "-s", "backup"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    folder = Path(made.stdout.strip().splitlines()[-1])
    assert json.loads((folder / "MANIFEST.json").read_text())["warehouse"] == str(paths.warehouse)
    with connect(paths.warehouse) as con:
        con.execute("drop table raw.housing")
        con.execute("create table raw.housing as select 1 as id, 'only one' as label")
    restored = subprocess.run(["make", "-s", "restore"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert restored.returncode == 0, restored.stderr
    assert _table_digest(paths.warehouse) == before

    (folder / "warehouse.duckdb").write_bytes(b"not a database")
    refused = subprocess.run(
        ["make", "-s", "restore", f"BACKUP={folder.name}"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode != 0
    assert "warehouse.duckdb" in refused.stderr and "refused" in refused.stderr
    assert _table_digest(paths.warehouse) == before
