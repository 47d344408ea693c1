"""The one way to open the warehouse DuckDB file.

DuckDB lets a single process write a file. Airflow's one-slot pool serialises writers inside
Airflow; the file lock here is the second guard for anything run outside it (a shell, a test,
a backfill started by hand)."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)


class WarehouseLockTimeout(RuntimeError):
    """Another process holds the warehouse write lock for longer than we wait."""


@contextmanager
def write_lock(db_path: Path, timeout_s: float = 600.0) -> Iterator[None]:
    """Hold an exclusive advisory lock beside the DuckDB file, waiting up to `timeout_s`."""
    lock_path = Path(f"{db_path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseLockTimeout(
                        f"{db_path} is locked by another writer (lock file {lock_path}) for more than {timeout_s:.0f}s"
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _load_extensions(con: duckdb.DuckDBPyConnection, extensions: Sequence[str]) -> None:
    """Install extensions from their PyPI packages (no extension server here), then load them."""
    import duckdb_extensions  # ships the binaries of duckdb-extension-* packages

    for name in extensions:
        try:
            con.execute(f"LOAD {name}")
        except duckdb.Error:
            duckdb_extensions.import_extension(name, con=con)
            con.execute(f"LOAD {name}")


def _config(extension_dir: Path | None) -> dict:
    config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    if extension_dir is not None:
        extension_dir.mkdir(parents=True, exist_ok=True)
        config["extension_directory"] = str(extension_dir)
    return config


def _bound_memory(con: duckdb.DuckDBPyConnection, db_path: Path) -> None:
    """Keep a writer's memory flat whatever the table size: a fixed memory limit, spilling to a
    folder beside the warehouse, and no insertion-order bookkeeping (raw tables have no order)."""
    limit = os.environ.get("ZLV_DUCKDB_MEMORY_LIMIT", "512MB")
    if not limit.replace(".", "").rstrip("KMGTiBb").isdigit():
        raise ValueError(f"ZLV_DUCKDB_MEMORY_LIMIT must look like 1GB or 512MB, got {limit!r}")
    spill = db_path.parent / ".duckdb_tmp"
    con.execute(f"set memory_limit = '{limit}'")
    con.execute(f"set temp_directory = {quote_literal(str(spill))}")
    con.execute("set preserve_insertion_order = false")


@contextmanager
def connect(
    db_path: Path,
    *,
    read_only: bool = False,
    extensions: Sequence[str] = (),
    extension_dir: Path | None = None,
    lock_timeout_s: float = 600.0,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; writers take the file lock first, readers open read-only."""
    db_path = Path(db_path)
    if read_only:
        con = duckdb.connect(str(db_path), read_only=True, config=_config(extension_dir))
        try:
            _load_extensions(con, extensions)
            yield con
        finally:
            con.close()
        return
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with write_lock(db_path, lock_timeout_s), _private_files():
        new_file = not db_path.exists()
        con = duckdb.connect(str(db_path), config=_config(extension_dir))
        if new_file:
            os.chmod(db_path, 0o600)
        try:
            _bound_memory(con, db_path)
            _load_extensions(con, extensions)
            yield con
        finally:
            con.close()


@contextmanager
def _private_files() -> Iterator[None]:
    """Files DuckDB creates while a writer is open (the .wal journal, spilled blocks) hold the same
    rows as the warehouse: created owner-only like it, not world-readable by the default umask."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def quote_ident(name: str) -> str:
    """Quote an identifier taken from configuration so that it cannot inject SQL."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether the connection's own database has this table (attached databases aside)."""
    return bool(
        con.execute(
            "select 1 from information_schema.tables where table_catalog = current_database() "
            "and table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()
    )


def duplicate_keys(con: duckdb.DuckDBPyConnection, table: str, keys: Sequence[str], where: str = "", params=()) -> int:
    """How many key values occur more than once in `table` (quoted), optionally within `where`."""
    cols = ", ".join(quote_ident(k) for k in keys)
    condition = f" where {where}" if where else ""
    sql = f"select count(*) from (select {cols} from {table}{condition} group by all having count(*) > 1)"
    return con.execute(sql, list(params)).fetchone()[0]


def rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back if a transaction is open; the original error is what matters."""
    try:
        con.execute("rollback")
    except duckdb.Error:
        pass
