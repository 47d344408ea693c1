"""One row per load of one table (or one file) per run: what the support team reads first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb

DDL = """
create schema if not exists ops;
create table if not exists ops.load_log (
    run_id varchar not null,
    source varchar not null,
    table_name varchar not null,
    object_key varchar,
    mode varchar not null,
    rows_loaded bigint,
    started_at timestamp not null,
    finished_at timestamp not null,
    status varchar not null,
    error varchar
);
"""


@dataclass
class LoadRecord:
    run_id: str
    source: str
    table_name: str
    mode: str
    object_key: str | None = None
    rows_loaded: int | None = None
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
    status: str = "running"
    error: str | None = None


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def write(con: duckdb.DuckDBPyConnection, record: LoadRecord, status: str, error: str | None = None) -> None:
    """Insert the record; inside the caller's transaction when it commits the data too."""
    record.status, record.error = status, error
    con.execute(
        "insert into ops.load_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            record.run_id,
            record.source,
            record.table_name,
            record.object_key,
            record.mode,
            record.rows_loaded,
            record.started_at,
            dt.datetime.now(dt.UTC).replace(tzinfo=None),
            status,
            error[:2000] if error else None,
        ],
    )
