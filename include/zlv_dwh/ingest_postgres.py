"""Copy the declared production PostgreSQL tables into raw_production, read-only at the source.

The source session is opened with `default_transaction_read_only=on` and attached READ_ONLY, so
PostgreSQL itself refuses any write through it. Dropped columns are never selected; pseudonymised
columns are hashed (keyed) before they are stored.

Everything a load changes — the rows, the watermark, the source-schema snapshot and its load-log
row — commits in one DuckDB transaction: a failed or killed load leaves the previous table and
watermark exactly as they were, so the next run neither skips nor duplicates rows."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from zlv_dwh import load_log, pii
from zlv_dwh.settings import CONFIG_DIR
from zlv_dwh.warehouse import connect, duplicate_keys, quote_ident, quote_literal, redact, rollback_quietly, table_exists

log = logging.getLogger(__name__)
SOURCE = "production"
DELETE_MODES = ("apply", "flag", "ignore")

STATE_DDL = """
create schema if not exists ops;
-- No primary key: DuckLake has no constraints; one row per table is kept by delete + insert.
create table if not exists ops.watermarks (
    table_name varchar not null,
    watermark timestamptz not null,
    updated_at timestamp not null
);
alter table ops.watermarks add column if not exists delete_signature varchar;
create table if not exists ops.source_columns (
    table_name varchar not null,
    ordinal integer not null,
    column_name varchar not null,
    source_type varchar not null
);
"""


class IngestError(RuntimeError):
    """A table could not be loaded; the message names the table (and column when relevant)."""


class SchemaDriftError(IngestError):
    """A source column was dropped or retyped since the last load: a human decides."""


@dataclass(frozen=True)
class TableSpec:
    name: str
    primary_key: tuple[str, ...]
    mode: str = "full"
    watermark: str | None = None
    watermark_fallback: str | None = None
    deletes: str = "apply"
    overlap: dt.timedelta = dt.timedelta(minutes=10)
    drop: tuple[str, ...] = ()
    pseudonymise: tuple[str, ...] = ()
    row_filter: str | None = None

    def __post_init__(self):
        if self.mode not in ("full", "incremental"):
            raise ValueError(f"table {self.name}: mode must be full or incremental, got {self.mode!r}")
        if self.mode == "incremental" and not self.watermark:
            raise ValueError(f"table {self.name}: incremental mode needs a watermark column")
        if self.deletes not in DELETE_MODES:
            raise ValueError(f"table {self.name}: deletes must be one of {DELETE_MODES}, got {self.deletes!r}")
        if not self.primary_key:
            raise ValueError(f"table {self.name}: a primary key is required")

    @property
    def watermark_columns(self) -> tuple[str, ...]:
        return tuple(c for c in (self.watermark, self.watermark_fallback) if c)

    def watermark_sql(self, alias: str | None = None) -> str:
        cols = [(f"{alias}." if alias else "") + quote_ident(c) for c in self.watermark_columns]
        return cols[0] if len(cols) == 1 else f"coalesce({', '.join(cols)})"


@dataclass(frozen=True)
class ProductionConfig:
    connection_id: str
    schema: str
    target_schema: str
    tables: dict[str, TableSpec]


def load_config(path: Path | None = None) -> ProductionConfig:
    """Read the table declarations; cheap enough to call at DAG parse time."""
    raw = yaml.safe_load(Path(path or CONFIG_DIR / "production_tables.yml").read_text(encoding="utf-8"))
    defaults = raw.get("defaults") or {}
    tables = {}
    for name, spec in raw["tables"].items():
        spec = {**defaults, **(spec or {})}
        tables[name] = TableSpec(
            name=name,
            primary_key=tuple(spec.get("primary_key") or ()),
            mode=spec.get("mode", "full"),
            watermark=spec.get("watermark"),
            watermark_fallback=spec.get("watermark_fallback"),
            deletes=spec.get("deletes", "apply"),
            overlap=dt.timedelta(minutes=float(spec.get("overlap_minutes", 10))),
            drop=tuple(spec.get("drop", ())),
            pseudonymise=tuple(spec.get("pseudonymise", ())),
            row_filter=spec.get("row_filter"),
        )
    return ProductionConfig(raw["connection_id"], raw["schema"], raw["target_schema"], tables)


def describe_tables(config: ProductionConfig) -> str:
    """Markdown rows (table | mode | watermark | deletes) for the DAG's documentation."""
    rows = []
    for spec in config.tables.values():
        watermark = " / ".join(spec.watermark_columns) if spec.mode == "incremental" else "-"
        deletes = spec.deletes if spec.mode == "incremental" else "reload"
        rows.append(f"| `{spec.name}` | {spec.mode} | {watermark} | {deletes} |")
    return "\n".join(rows)


def read_only_dsn(dsn: str) -> str:
    """A libpq keyword DSN whose session refuses writes, whatever the role may do."""
    return f"{dsn} options='-c default_transaction_read_only=on'"


# DuckDB's postgres extension quotes the whole COPY statement before PostgreSQL's reason.
_ECHOED_COPY = re.compile(r'"COPY \(.*?\) TO STDOUT \(FORMAT "?binary"?\);?"', re.DOTALL)


def readable(text: str) -> str:
    """The error as the alert's first line should read it: the password hidden, and the echoed COPY
    statement (hundreds of characters before the reason, e.g. a dropped connection) shortened."""
    return _ECHOED_COPY.sub('"COPY (...)"', redact(text))


def _pg(sql: str) -> str:
    """A relation reading `sql` as PostgreSQL runs it (in the read-only session)."""
    return f"postgres_query('pg', {quote_literal(sql)})"


def source_columns(con, schema: str, table: str) -> list[tuple[str, str]]:
    """(column, PostgreSQL type as `format_type` writes it), in table order."""
    rows = con.execute(
        "select attname, source_type from "
        + _pg(
            "select a.attname::text as attname, format_type(a.atttypid, a.atttypmod) as source_type "
            "from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
            f"where n.nspname = {quote_literal(schema)} and c.relname = {quote_literal(table)} "
            "and a.attnum > 0 and not a.attisdropped order by a.attnum",
        )
    ).fetchall()
    if not rows:
        raise IngestError(f"production table {schema}.{table} not found (or not visible to the login)")
    return [(r[0], r[1]) for r in rows]


def source_enforces_key(con, schema: str, table: str, keys: tuple[str, ...]) -> bool:
    """True when PostgreSQL has a (non-partial) unique index on exactly these columns: the
    duplicate-key scan of the copy is then redundant."""
    wanted = "array[" + ", ".join(quote_literal(k) for k in sorted(keys)) + "]::text[]"
    sql = (
        "select count(*) as n from pg_index i join pg_class c on c.oid = i.indrelid "
        "join pg_namespace n on n.oid = c.relnamespace "
        f"where n.nspname = {quote_literal(schema)} and c.relname = {quote_literal(table)} and i.indisunique "
        "and i.indpred is null and (select array_agg(a.attname::text order by a.attname::text) from pg_attribute a "
        f"where a.attrelid = c.oid and a.attnum = any(i.indkey)) = {wanted}"
    )
    return con.execute(f"select n from {_pg(sql)}").fetchone()[0] > 0


def delete_signature(con, schema: str, table: str) -> str | None:
    """PostgreSQL's own evidence that rows may have left the table since the last load.

    The cumulative deleted-tuple counters of the table (and of each partition), with each storage
    file id (TRUNCATE gives a new one, without counting deletes), the server's start time and the
    database's statistics reset time (both reset the counters). Equal signatures mean no row was
    deleted in between, so the costly key comparison is skipped. A delete whose counter is not yet
    flushed is only seen one run later: it is delayed, never lost. None when the counters are
    switched off (`track_counts`): then keys are always compared."""
    relation = f"{quote_literal(quote_ident(schema) + '.' + quote_ident(table))}::regclass"
    sql = (
        "select case when current_setting('track_counts') = 'on' then concat_ws('|', pg_postmaster_start_time(), "
        "(select stats_reset from pg_stat_database where datname = current_database()), "
        "(select string_agg(c.oid || ':' || c.relfilenode || ':' || coalesce(s.n_tup_del, 0), ',' order by c.oid) "
        "from pg_class c left join pg_stat_all_tables s on s.relid = c.oid "
        f"where c.oid = {relation} or c.oid in (select relid from pg_partition_tree({relation})))) end as signature"
    )
    return con.execute(f"select signature from {_pg(sql)}").fetchone()[0]


def _check_declared(spec: TableSpec, columns: list[str], schema: str) -> None:
    declared = (
        ("drop", spec.drop),
        ("pseudonymise", spec.pseudonymise),
        ("primary_key", spec.primary_key),
        ("watermark", spec.watermark_columns),
    )
    for kind, names in declared:
        missing = [c for c in names if c not in columns]
        if missing:
            raise IngestError(f"production table {schema}.{spec.name}: {kind} column(s) {missing} not in the source")
    for kind, names in (("primary_key", spec.primary_key), ("watermark", spec.watermark_columns)):
        dropped = [c for c in names if c in spec.drop]
        if dropped:
            raise IngestError(f"production table {schema}.{spec.name}: {kind} column(s) {dropped} are also dropped")


def source_snapshot(con, table: str) -> list[tuple[str, str]]:
    """(column, source type) of the table at its last load, in table order; empty before the first."""
    return con.execute(
        "select column_name, source_type from ops.source_columns where table_name = ? order by ordinal", [table]
    ).fetchall()


def schema_drift(spec: TableSpec, snapshot: list[tuple[str, str]], kept: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Compare with the snapshot of the last load: new (column, type) are returned, to add and report;
    a dropped or retyped column raises, naming table, column, old and new type."""
    previous = dict(snapshot)
    if not previous:
        return []
    current = dict(kept)
    problems = [f"column {c} ({t}) was dropped" for c, t in previous.items() if c not in current]
    problems += [
        f"column {c} changed type from {t} to {current[c]}" for c, t in previous.items() if c in current and current[c] != t
    ]
    if problems:
        raise SchemaDriftError(
            f"production table {spec.name}: schema drift: {'; '.join(problems)}. The raw table is left as it was; "
            f"once the models are adapted, accept the new schema with a full reload "
            f"(delete from ops.source_columns where table_name = '{spec.name}')"
        )
    return [(c, t) for c, t in kept if c not in previous]


def _select_list(con, spec: TableSpec, kept: list[tuple[str, str]], key: bytes | None) -> list[str]:
    """The DuckDB projection over the PostgreSQL relation: hashed, JSON typed, stamped."""
    if spec.pseudonymise:
        pii.install_key(con, pii.require_key(key))
    select = []
    for name, source_type in kept:
        col = quote_ident(name)
        if name in spec.pseudonymise:
            select.append(f"{pii.hmac_sql(col)} as {col}")
        elif source_type in ("json", "jsonb"):
            select.append(f"cast({col} as json) as {col}")  # arrives as text; keep it usable as JSON
        else:
            select.append(col)
    select.append("cast(now() as timestamp) as _loaded_at")
    if spec.deletes == "flag":
        select.append("cast(null as timestamp) as _deleted_at")
    return select


def _pg_query(spec: TableSpec, kept: list[str], schema: str, where: list[str]) -> str:
    """What PostgreSQL runs: the projection and the filters, so dropped columns never leave it."""
    sql = f"select {', '.join(quote_ident(c) for c in kept)} from {quote_ident(schema)}.{quote_ident(spec.name)}"
    conditions = [f"({spec.row_filter})"] if spec.row_filter else []
    conditions += where
    return sql + (f" where {' and '.join(conditions)}" if conditions else "")


def _source_relation(spec: TableSpec, columns, source_schema: str) -> str:
    """The whole (filtered) source table as a DuckDB relation over the given columns."""
    if spec.row_filter:  # PostgreSQL SQL: PostgreSQL evaluates it
        return _pg(_pg_query(spec, list(columns), source_schema, []))
    # The attached table: parallel COPY streams, the column list pushed down to PostgreSQL.
    return f"pg.{quote_ident(source_schema)}.{quote_ident(spec.name)}"


def _key_join(left: str, right: str, keys: tuple[str, ...]) -> str:
    return " and ".join(f"{left}.{quote_ident(k)} = {right}.{quote_ident(k)}" for k in keys)


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
) -> load_log.LoadRecord:
    """Bring raw_production.<table> up to date with the source; returns what the load did."""
    record = load_log.LoadRecord(run_id=run_id, source=SOURCE, table_name=spec.name, mode=spec.mode)
    with connect(warehouse, extensions=["postgres"], extension_dir=extension_dir) as con:
        load_log.ensure(con)
        con.execute(STATE_DDL)
        con.execute(f"create schema if not exists {quote_ident(target_schema)}")
        # Before the attach: once it is there, catalog views list PostgreSQL's tables too (a query).
        loaded_before = table_exists(con, target_schema, spec.name)
        try:
            con.execute(f"attach {quote_literal(read_only_dsn(pg_dsn))} as pg (type postgres, read_only)")
            columns = source_columns(con, source_schema, spec.name)
            _check_declared(spec, [c for c, _ in columns], source_schema)
            kept = [(c, t) for c, t in columns if c not in spec.drop]
            select = _select_list(con, spec, kept, key)
            # Read before any row: a delete during this load changes it and is caught next run.
            signature = delete_signature(con, source_schema, spec.name) if spec.mode == "incremental" else None
            con.execute("begin transaction")
            snapshot = source_snapshot(con, spec.name)
            added = schema_drift(spec, snapshot, kept)
            record.schema_changes = [f"added column {c} ({t})" for c, t in added]
            state = con.execute(
                "select watermark, delete_signature from ops.watermarks where table_name = ?", [spec.name]
            ).fetchone()
            if spec.mode == "incremental" and state and loaded_before:
                _incremental(con, spec, kept, added, select, source_schema, target_schema, state[0], record)
                record.deletes_checked = spec.deletes != "ignore" and (
                    spec.row_filter is not None or signature is None or signature != state[1]
                )
                if record.deletes_checked:
                    record.rows_deleted = _reconcile_deletes(con, spec, source_schema, target_schema)
            else:
                _full(con, spec, kept, select, source_schema, target_schema, record)
            key_enforced = source_enforces_key(con, source_schema, spec.name, spec.primary_key)
            _finish(con, spec, target_schema, record, check_key=not key_enforced, signature=signature)
            if snapshot != kept:  # the schema snapshot, rewritten only when it changed
                con.execute("delete from ops.source_columns where table_name = ?", [spec.name])
                con.executemany(
                    "insert into ops.source_columns values (?, ?, ?, ?)", [(spec.name, i, c, t) for i, (c, t) in enumerate(kept)]
                )
            load_log.write(con, record, "success")
            con.execute("commit")
        except Exception as exc:
            rollback_quietly(con)
            message = exc.args[0] if isinstance(exc, IngestError) else f"production table {source_schema}.{spec.name}: {exc}"
            message = readable(message)
            record.schema_changes = []
            load_log.write(con, record, "failed", message)
            # Not chained: the original exception's text may hold the connection string.
            raise (SchemaDriftError if isinstance(exc, SchemaDriftError) else IngestError)(message) from None
    log.info(
        "%s %s.%s: read %s, inserted %s, updated %s, deleted %s (%s), watermark %s -> %s%s",
        record.mode,
        target_schema,
        spec.name,
        record.rows_read,
        record.rows_inserted,
        record.rows_updated,
        record.rows_deleted,
        _delete_note(spec, record),
        record.watermark_from,
        record.watermark_to,
        f"; schema: {'; '.join(record.schema_changes)}" if record.schema_changes else "",
    )
    return record


def ingest_declared(config: ProductionConfig, table: str, **kwargs) -> load_log.LoadRecord:
    """One declared table, between the schemas its configuration names (the Airflow task's call)."""
    return ingest_table(config.tables[table], source_schema=config.schema, target_schema=config.target_schema, **kwargs)


def ingest_all(config: ProductionConfig, **kwargs) -> list[load_log.LoadRecord]:
    """Every declared table, one after another: the pipeline without Airflow (demo, tests, benches)."""
    return [ingest_declared(config, table, **kwargs) for table in config.tables]


def _delete_note(spec: TableSpec, record: load_log.LoadRecord) -> str:
    if record.deletes_checked is None:
        return "full copy"
    if spec.deletes == "ignore":
        return "deletes ignored as declared"
    return "source keys compared" if record.deletes_checked else "keys not compared: PostgreSQL counted no delete"


def _full(con, spec, kept, select, source_schema, target_schema, record) -> None:
    """Replace the table: the new copy becomes visible only when the transaction commits."""
    target = f"{quote_ident(target_schema)}.{quote_ident(spec.name)}"
    record.mode = "full" if spec.mode == "full" else "incremental (initial full)"
    source = _source_relation(spec, [c for c, _ in kept], source_schema)
    con.execute(f"create or replace table {target} as select {', '.join(select)} from {source}")
    record.rows_read = record.rows_inserted = con.execute(f"select count(*) from {target}").fetchone()[0]
    record.rows_updated = record.rows_deleted = 0


def _incremental(con, spec, kept, added, select, source_schema, target_schema, watermark, record) -> None:
    """Upsert the rows changed since the watermark (minus the overlap)."""
    target = f"{quote_ident(target_schema)}.{quote_ident(spec.name)}"
    names = [c for c, _ in kept]
    since = watermark - spec.overlap
    record.watermark_from = watermark.isoformat()
    stamp = spec.watermark_sql()
    where = [f"{stamp} > {quote_literal(since.isoformat())}::timestamptz"]
    con.execute(
        f"create or replace temp table _zlv_delta as select {', '.join(select)} "
        f"from {_pg(_pg_query(spec, names, source_schema, where))}"
    )
    record.rows_read = con.execute("select count(*) from _zlv_delta").fetchone()[0]
    record.rows_deleted = 0
    delta_types = dict(con.execute("select column_name, column_type from (describe _zlv_delta)").fetchall())
    for column, _ in added:  # new source columns: add them before upserting
        con.execute(f"alter table {target} add column {quote_ident(column)} {delta_types[column]}")
    cols = ", ".join(quote_ident(c) for c in names)
    keys = spec.primary_key
    # The overlap re-reads rows already loaded: a row whose key and watermark are already in the raw
    # table is the same version and is not rewritten. Only the key and watermark columns of the raw
    # rows inside the window are read, not the whole table.
    window = f"{spec.watermark_sql('t')} > {quote_literal(since.isoformat())}::timestamptz"
    con.execute(
        f"create or replace temp table _zlv_changed as select {cols} from _zlv_delta d where not exists "
        f"(select 1 from {target} t where {window} and {_key_join('t', 'd', keys)} "
        f"and {spec.watermark_sql('t')} is not distinct from {spec.watermark_sql('d')})"
    )
    # Keys are unique in the raw table, so the rows deleted are the rows updated.
    record.rows_updated = con.execute(
        f"delete from {target} t where exists (select 1 from _zlv_changed c where {_key_join('c', 't', keys)})"
    ).fetchone()[0]
    record.rows_inserted = con.execute("select count(*) from _zlv_changed").fetchone()[0] - record.rows_updated
    stamps = "now()::timestamp" + (", null::timestamp" if spec.deletes == "flag" else "")
    extra = ", _loaded_at" + (", _deleted_at" if spec.deletes == "flag" else "")
    con.execute(f"insert into {target} ({cols}{extra}) select {cols}, {stamps} from _zlv_changed")
    newest = con.execute(f"select max({stamp}) from _zlv_delta").fetchone()[0]
    record.watermark_to = max(watermark, newest).isoformat() if newest else watermark.isoformat()


def _reconcile_deletes(con, spec, source_schema, target_schema) -> int:
    """Rows whose key is gone from the source (or left its row filter): deleted or flagged.

    Runs only when PostgreSQL's counters say rows may have been deleted (see delete_signature):
    the source keys are then downloaded (the key column alone, a parallel COPY) and compared."""
    target = f"{quote_ident(target_schema)}.{quote_ident(spec.name)}"
    keys = spec.primary_key
    key_cols = ", ".join(quote_ident(k) for k in keys)
    con.execute(f"create or replace temp table _zlv_keys as select {key_cols} from {_source_relation(spec, keys, source_schema)}")
    gone = f"not exists (select 1 from _zlv_keys k where {_key_join('k', 't', keys)})"
    if spec.deletes == "apply":
        return con.execute(f"delete from {target} t where {gone}").fetchone()[0]
    flagged = con.execute(
        f"update {target} t set _deleted_at = now()::timestamp where _deleted_at is null and {gone}"
    ).fetchone()[0]
    con.execute(f"update {target} t set _deleted_at = null where _deleted_at is not null and not ({gone})")
    return flagged


def _finish(con, spec, target_schema, record, check_key: bool, signature: str | None) -> None:
    """Checks and state that commit with the data: key uniqueness (unless PostgreSQL enforces it),
    watermark."""
    target = f"{quote_ident(target_schema)}.{quote_ident(spec.name)}"
    dup = check_key and duplicate_keys(con, target, spec.primary_key)
    if dup:
        raise IngestError(
            f"production table {spec.name}: {dup} duplicate value(s) of primary key ({', '.join(spec.primary_key)}); "
            "the previous raw table is kept"
        )
    record.rows_loaded = con.execute(f"select count(*) from {target}").fetchone()[0]
    if spec.mode == "incremental":
        if record.watermark_to is None:
            newest = con.execute(f"select max({spec.watermark_sql()}) from {target}").fetchone()[0]
            record.watermark_to = newest.isoformat() if newest else None
        if record.watermark_to is not None:
            con.execute("delete from ops.watermarks where table_name = ?", [spec.name])
            con.execute(
                "insert into ops.watermarks (table_name, watermark, updated_at, delete_signature) "
                "values (?, ?::timestamptz, now()::timestamp, ?)",
                [spec.name, record.watermark_to, signature],
            )
