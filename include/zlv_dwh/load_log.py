"""One row per load of one table (or one file) per run: what the support team reads first."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import duckdb

_COLUMNS = {
    "run_id": "varchar not null",
    "source": "varchar not null",
    "table_name": "varchar not null",
    "object_key": "varchar",
    "mode": "varchar not null",
    "rows_loaded": "bigint",
    "started_at": "timestamp not null",
    "finished_at": "timestamp not null",
    "status": "varchar not null",
    "error": "varchar",
    "rows_read": "bigint",
    "rows_inserted": "bigint",
    "rows_updated": "bigint",
    "rows_deleted": "bigint",
    "watermark_from": "varchar",
    "watermark_to": "varchar",
    "duration_s": "double",
    "schema_changes": "varchar",
    "deletes_checked": "boolean",
    "unclassified_columns": "varchar",
    "future_watermark_rows": "bigint",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class LoadRecord:
    """What one load did; `rows_loaded` is the rows the target holds for what was loaded."""

    run_id: str
    source: str
    table_name: str
    mode: str
    object_key: str | None = None
    rows_loaded: int | None = None
    rows_read: int | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    watermark_from: str | None = None
    watermark_to: str | None = None
    schema_changes: list[str] = field(default_factory=list)
    deletes_checked: bool | None = None  # source keys compared (incremental loads only)
    # source columns nobody classified: not copied (personal data is denied by default)
    unclassified_columns: list[str] = field(default_factory=list)
    # rows whose watermark lies beyond now + the tolerance: loaded, never committed as the watermark
    future_watermark_rows: int | None = None
    future_watermark_max: str | None = None
    started_at: dt.datetime = field(default_factory=_now)
    status: str = "running"
    error: str | None = None
    _clock: float = field(default_factory=time.monotonic, repr=False)


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create the table, or add the columns a newer version logs (warehouses outlive code)."""
    con.execute("create schema if not exists ops")
    con.execute("create table if not exists ops.load_log (run_id varchar not null)")
    present = {r[0] for r in con.execute("select * from (describe ops.load_log)").fetchall()}
    for name, ddl in _COLUMNS.items():
        if name not in present:  # `if not exists` still: a concurrent DuckLake writer may add it first
            con.execute(f"alter table ops.load_log add column if not exists {name} {ddl.replace(' not null', '')}")


def write(con: duckdb.DuckDBPyConnection, record: LoadRecord, status: str, error: str | None = None) -> None:
    """Insert the record; inside the caller's transaction when it commits the data too."""
    record.status, record.error = status, error
    values = {
        **{name: getattr(record, name, None) for name in _COLUMNS},
        "finished_at": _now(),
        "duration_s": round(time.monotonic() - record._clock, 3),
        "schema_changes": "; ".join(record.schema_changes) or None,
        "unclassified_columns": ", ".join(record.unclassified_columns) or None,
        "error": error[:2000] if error else None,
    }
    con.execute(
        f"insert into ops.load_log ({', '.join(values)}) values ({', '.join('?' for _ in values)})",
        list(values.values()),
    )
