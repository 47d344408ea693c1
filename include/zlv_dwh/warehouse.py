"""The one way to open the warehouse, on either storage backend (ZLV_WAREHOUSE_BACKEND).

duckdb (default): one DuckDB file. DuckDB lets a single process write a file. Airflow's one-slot
pool serialises writers inside Airflow; the file lock here is the second guard for anything run
outside it (a shell, a test, a backfill started by hand).

ducklake: an in-memory DuckDB with the DuckLake catalog (PostgreSQL) attached and selected under
the name `warehouse`, data as Parquet under the data path (S3). Callers' SQL (raw_*, ops, marts)
runs unchanged. No file lock: DuckLake commits are optimistic, several processes write at once,
and two transactions that change the same table fail the later commit with a conflict error
(the task fails and its retry runs on the new state)."""

from __future__ import annotations

import fcntl
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TypeVar

import duckdb

from zlv_dwh.settings import DUCKLAKE_ALIAS, LakeSettings, Paths, warehouse_backend

log = logging.getLogger(__name__)
T = TypeVar("T")


class WarehouseLockTimeout(RuntimeError):
    """Another process holds the warehouse write lock for longer than we wait."""


class WarehouseUnavailable(RuntimeError):
    """The DuckLake catalog or its data path cannot be reached (the message holds no password)."""


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


def single_writer() -> bool:
    """Whether the backend allows one writer at a time (the DuckDB file), so a writer holding the
    lock owns the folders beside the warehouse."""
    return warehouse_backend() == "duckdb"


def writer_lock(db_path: Path, timeout_s: float = 600.0):
    """What a writer holds while it writes: the file lock on the DuckDB file, nothing on DuckLake
    (its catalog arbitrates concurrent commits)."""
    return write_lock(db_path, timeout_s) if single_writer() else nullcontext()


_PASSWORD = re.compile(r"""(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)|(://[^:/@\s]+:)([^@\s]+)(@)""", re.IGNORECASE)


def redact(text: str) -> str:
    """Hide passwords: libpq and DuckDB echo the connection string in their connection errors."""
    return _PASSWORD.sub(lambda m: f"{m[1]}***" if m[1] else f"{m[3]}***{m[5]}", text)


def load_extensions(con: duckdb.DuckDBPyConnection, extensions: Sequence[str]) -> None:
    """Load extensions into an open connection (installed from their PyPI packages if needed)."""
    _load_extensions(con, extensions)


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
    """One configuration for every connection to the warehouse, dbt's included (profiles.yml sets
    the same extension folder): DuckDB refuses a second connection to a file, in one process, whose
    configuration differs from the first's (`airflow dags test` runs dbt and the audit in-process)."""
    from zlv_dwh.settings import Paths

    extension_dir = Path(extension_dir) if extension_dir is not None else Paths.from_env().extension_dir
    extension_dir.mkdir(parents=True, exist_ok=True)
    return {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "extension_directory": str(extension_dir),
    }


def _bound_memory(con: duckdb.DuckDBPyConnection, spill: Path) -> None:
    """Keep a writer's memory flat whatever the table size: a fixed memory limit, spilling to a
    folder beside the warehouse, and no insertion-order bookkeeping (raw tables have no order).

    DuckDB keeps the blocks a load writes in its buffer cache up to the limit, so a writer's RSS
    grows with the table until the limit, then stays there (measured: limit + 120-220 MB). At 128 MB
    the benchmarks' loads were flat (2N/N 0.97 for 2M rows, 0.96 for 257 MB files) and as fast, but
    an incremental load of a 10M-row table ran out of memory at 128 and 256 MB (its temporary
    delta, changed-row and source-key tables: bench/README.md), not at 512 MB."""
    limit = os.environ.get("ZLV_DUCKDB_MEMORY_LIMIT", "512MB")
    if not limit.replace(".", "").rstrip("KMGTiBb").isdigit():
        raise ValueError(f"ZLV_DUCKDB_MEMORY_LIMIT must look like 1GB or 512MB, got {limit!r}")
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
    """Open the warehouse; writers take the file lock first, readers open read-only. On the
    DuckLake backend `db_path` only places the spill folder; the lake is opened instead."""
    db_path = Path(db_path)
    if not single_writer():
        with _connect_lake(db_path, read_only, extensions, extension_dir) as con:
            yield con
        return
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
            _bound_memory(con, db_path.parent / ".duckdb_tmp")
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


LAKE_EXTENSIONS = ("httpfs", "postgres", "ducklake")
ATTEMPTS_ON_CONFLICT = 5
# How DuckLake refuses a commit that raced another writer on the same table (the ops state
# tables are shared by every load, so concurrent loads meet there). Callers wrap DuckDB's error in
# their own, hence a match on the text.
_CONFLICT = ("Transaction conflict", "Failed to commit DuckLake transaction")


def retry_on_conflict(work: Callable[[], T], attempts: int = ATTEMPTS_ON_CONFLICT) -> T:
    """Run `work` again when another writer committed to the same table first. Safe because a
    refused commit rolls the whole transaction back and every load is idempotent; on the DuckDB
    file the lock serialises writers, so this never retries there."""
    for attempt in range(attempts):
        try:
            return work()
        except Exception as exc:
            if attempt + 1 == attempts or not any(text in str(exc) for text in _CONFLICT):
                raise
            delay = random.uniform(0.2, 1.0) * (attempt + 1)
            log.warning("DuckLake commit conflict with another writer; attempt %d of %d in %.1fs", attempt + 2, attempts, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


# What dbt's targets load (profiles.yml `extensions`): geometry functions for the models.
DBT_EXTENSIONS = ("spatial",)


def install_extensions(extension_dir: Path) -> None:
    """Put the extensions dbt loads (spatial; and the DuckLake backend's) in `extension_dir`, where
    the profile's targets find them: dbt itself would try to download them."""
    wanted = list(DBT_EXTENSIONS) + ([] if single_writer() else list(LAKE_EXTENSIONS))
    missing = [e for e in wanted if not list(Path(extension_dir).glob(f"*/*/{e}.duckdb_extension"))]
    if not missing:
        return
    with duckdb.connect(":memory:", config=_config(extension_dir)) as con:
        _load_extensions(con, missing)


def _s3_secret_sql(lake: LakeSettings) -> str:
    """The S3 secret DuckDB reads the lake's Parquet with (path-style, as Cellar/MinIO/moto need)."""
    s3 = lake.s3
    endpoint = (s3.endpoint_url or "s3.amazonaws.com").rstrip("/")
    use_ssl = "false" if endpoint.startswith("http://") else "true"
    host = endpoint.split("://", 1)[-1]
    scope = "s3://" + lake.data_path.removeprefix("s3://").split("/", 1)[0]
    return (
        f"create or replace secret zlv_lake_s3 (type s3, key_id {quote_literal(s3.access_key_id)}, "
        f"secret {quote_literal(s3.secret_access_key)}, "
        + (f"session_token {quote_literal(s3.session_token)}, " if s3.session_token else "")
        + f"endpoint {quote_literal(host)}, region {quote_literal(s3.region)}, "
        f"url_style 'path', use_ssl {use_ssl}, scope {quote_literal(scope)})"
    )


@contextmanager
def _connect_lake(
    db_path: Path, read_only: bool, extensions: Sequence[str], extension_dir: Path | None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the DuckLake catalog attached as `warehouse` and selected."""
    lake = LakeSettings.from_env()
    con = duckdb.connect(":memory:", config=_config(extension_dir or Paths.from_env().extension_dir))
    try:
        if not read_only:  # a spill folder per process: several writers may run side by side
            _bound_memory(con, db_path.parent / ".duckdb_tmp" / f"lake-{os.getpid()}")
        _load_extensions(con, [*LAKE_EXTENSIONS, *(e for e in extensions if e not in LAKE_EXTENSIONS)])
        if lake.s3 is not None:
            con.execute(_s3_secret_sql(lake))
        options = f"data_path {quote_literal(lake.data_path)}" + (", read_only" if read_only else "")
        for attempt in range(ATTEMPTS_ON_CONFLICT):
            try:
                con.execute(f"attach {quote_literal('ducklake:postgres:' + lake.catalog)} as {DUCKLAKE_ALIAS} ({options})")
                break
            except duckdb.Error as exc:
                # Two processes creating a new catalog at once: the loser finds it made.
                if "Failed to initialize DuckLake" in str(exc) and attempt + 1 < ATTEMPTS_ON_CONFLICT:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                # Not chained: its text may hold the catalog's password.
                raise WarehouseUnavailable(f"cannot attach the DuckLake catalog: {redact(str(exc))}") from None
        con.execute(f"use {DUCKLAKE_ALIAS}")
        yield con
    finally:
        con.close()


def fsync(path: Path) -> None:
    """Flush a file, or a folder's entries after a rename, to disk: a crash then finds either the
    old or the new file, whole (the publication and the backups rename into place)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
