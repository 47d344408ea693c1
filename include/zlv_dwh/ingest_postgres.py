"""Copy the declared production PostgreSQL tables into raw_production, read-only at the source.

The source session is opened with `default_transaction_read_only=on` and attached READ_ONLY, so
PostgreSQL itself refuses any write through it. Dropped columns are never selected; pseudonymised
columns are hashed before they are stored. A table is replaced in one DuckDB transaction together
with its load-log row: a failed load leaves the previous table untouched."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from zlv_dwh import load_log, pii
from zlv_dwh.settings import CONFIG_DIR
from zlv_dwh.warehouse import connect, quote_ident, quote_literal, rollback_quietly

log = logging.getLogger(__name__)
SOURCE = "production"


class IngestError(RuntimeError):
    """A table could not be loaded; the message names the table (and column when relevant)."""


@dataclass(frozen=True)
class TableSpec:
    name: str
    primary_key: tuple[str, ...]
    mode: str = "full"
    drop: tuple[str, ...] = ()
    pseudonymise: tuple[str, ...] = ()
    row_filter: str | None = None


@dataclass(frozen=True)
class ProductionConfig:
    connection_id: str
    schema: str
    target_schema: str
    tables: dict[str, TableSpec]


def load_config(path: Path | None = None) -> ProductionConfig:
    """Read the table declarations; cheap enough to call at DAG parse time."""
    raw = yaml.safe_load(Path(path or CONFIG_DIR / "production_tables.yml").read_text(encoding="utf-8"))
    tables = {}
    for name, spec in raw["tables"].items():
        if spec.get("mode", "full") != "full":
            raise ValueError(f"table {name}: only mode 'full' is supported so far, got {spec['mode']!r}")
        tables[name] = TableSpec(
            name=name,
            primary_key=tuple(spec["primary_key"]),
            mode=spec.get("mode", "full"),
            drop=tuple(spec.get("drop", ())),
            pseudonymise=tuple(spec.get("pseudonymise", ())),
            row_filter=spec.get("row_filter"),
        )
    return ProductionConfig(raw["connection_id"], raw["schema"], raw["target_schema"], tables)


def read_only_dsn(dsn: str) -> str:
    """A libpq keyword DSN whose session refuses writes, whatever the role may do."""
    return f"{dsn} options='-c default_transaction_read_only=on'"


_PASSWORD = re.compile(r"""(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)""", re.IGNORECASE)


def redact(text: str) -> str:
    """Hide passwords: libpq and DuckDB echo the connection string in their connection errors."""
    return _PASSWORD.sub(r"\1***", text)


def _source_columns(con, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from duckdb_columns() "
        "where database_name = 'pg' and schema_name = ? and table_name = ? order by column_index",
        [schema, table],
    ).fetchall()
    if not rows:
        raise IngestError(f"production table {schema}.{table} not found (or not visible to the login)")
    return [r[0] for r in rows]


def _select_sql(con, spec: TableSpec, columns: list[str], schema: str, key: bytes | None) -> str:
    for kind, declared in (("drop", spec.drop), ("pseudonymise", spec.pseudonymise), ("primary_key", spec.primary_key)):
        missing = [c for c in declared if c not in columns]
        if missing:
            raise IngestError(f"production table {schema}.{spec.name}: {kind} column(s) {missing} not in the source")
    kept = [c for c in columns if c not in spec.drop]
    # PostgreSQL evaluates the projection and the row filter: dropped columns never leave it.
    pg_query = f"select {', '.join(quote_ident(c) for c in kept)} from {quote_ident(schema)}.{quote_ident(spec.name)}"
    if spec.row_filter:
        pg_query += f" where {spec.row_filter}"
    if spec.pseudonymise:
        pii.install_key(con, pii.require_key(key))
    select = [f"{pii.hmac_sql(quote_ident(c))} as {quote_ident(c)}" if c in spec.pseudonymise else quote_ident(c) for c in kept]
    select.append("cast(now() as timestamp) as _loaded_at")
    return f"select {', '.join(select)} from postgres_query('pg', {quote_literal(pg_query)})"


def ingest_table(
    spec: TableSpec,
    *,
    pg_dsn: str,
    warehouse: Path,
    run_id: str,
    key: bytes | None,
    extension_dir: Path | None = None,
    source_schema: str = "public",
    target_schema: str = "raw_production",
) -> int:
    """Replace raw_production.<table> with a fresh copy; returns the rows loaded."""
    record = load_log.LoadRecord(run_id=run_id, source=SOURCE, table_name=spec.name, mode=spec.mode)
    target = f"{quote_ident(target_schema)}.{quote_ident(spec.name)}"
    with connect(warehouse, extensions=["postgres"], extension_dir=extension_dir) as con:
        load_log.ensure(con)
        con.execute(f"create schema if not exists {quote_ident(target_schema)}")
        try:
            con.execute(f"attach {quote_literal(read_only_dsn(pg_dsn))} as pg (type postgres, read_only)")
            select = _select_sql(con, spec, _source_columns(con, source_schema, spec.name), source_schema, key)
            con.execute("begin transaction")
            con.execute(f"create or replace table {target} as {select}")
            _check_primary_key(con, target, spec)
            record.rows_loaded = con.execute(f"select count(*) from {target}").fetchone()[0]
            load_log.write(con, record, "success")
            con.execute("commit")
        except Exception as exc:
            rollback_quietly(con)
            message = exc.args[0] if isinstance(exc, IngestError) else f"production table {source_schema}.{spec.name}: {exc}"
            message = redact(message)
            load_log.write(con, record, "failed", message)
            # Not chained: the original exception's text may hold the connection string.
            raise IngestError(message) from None
    log.info("loaded %s rows into %s.%s", record.rows_loaded, target_schema, spec.name)
    return record.rows_loaded


def _check_primary_key(con, target: str, spec: TableSpec) -> None:
    cols = ", ".join(quote_ident(c) for c in spec.primary_key)
    dup = con.execute(f"select count(*) from (select {cols} from {target} group by all having count(*) > 1)").fetchone()[0]
    if dup:
        raise IngestError(
            f"production table {spec.name}: {dup} duplicate value(s) of primary key ({', '.join(spec.primary_key)}); "
            "the previous raw table is kept"
        )
