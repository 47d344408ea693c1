"""Copy the declared production PostgreSQL tables into raw_production, read-only at the source.

The source session is opened with `default_transaction_read_only=on` and attached READ_ONLY, so
PostgreSQL itself refuses any write through it; before that, every load proves the login itself
can only read (source_guard), since a session can switch its own read-only mode off. Dropped
columns are never selected; pseudonymised columns are hashed (keyed) before they are stored.

Everything a load changes — the rows, the watermark, the source-schema snapshot and its load-log
row — commits in one DuckDB transaction: a failed or killed load leaves the previous table and
watermark exactly as they were, so the next run neither skips nor duplicates rows."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

from zlv_dwh import load_log, pii
from zlv_dwh.config_schema import close_match
from zlv_dwh.production_config import DELETE_MODES, JsonFilter, ProductionConfig, TableSpec, load_config
from zlv_dwh.warehouse import (
    connect,
    duplicate_keys,
    quote_ident,
    quote_literal,
    redact,
    rollback_quietly,
    table_exists,
)

log = logging.getLogger(__name__)
SOURCE = "production"
__all__ = ["DELETE_MODES", "ProductionConfig", "TableSpec", "load_config", "ingest_table", "IngestError"]

STATE_DDL = """
create schema if not exists ops;
-- No primary key: DuckLake has no constraints; one row per table is kept by delete + insert.
create table if not exists ops.watermarks (
    table_name varchar not null,
    watermark timestamptz not null,
    updated_at timestamp not null
);
alter table ops.watermarks add column if not exists delete_signature varchar;
alter table ops.watermarks add column if not exists update_signature varchar;
create table if not exists ops.source_columns (
    table_name varchar not null,
    ordinal integer not null,
    column_name varchar not null,
    source_type varchar not null
);
alter table ops.source_columns add column if not exists treatment varchar;
"""


class IngestError(RuntimeError):
    """A table could not be loaded; the message names the table (and column when relevant)."""


class SchemaDriftError(IngestError):
    """A source column was dropped or retyped since the last load: a human decides."""


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


def change_signatures(con, schema: str, table: str) -> tuple[str | None, str | None]:
    """PostgreSQL's own evidence that rows may have been deleted, or updated in place, since the
    last load: (delete signature, update signature).

    The cumulative deleted- (updated-) tuple counters of the table and of each partition, with each
    storage file id (TRUNCATE gives a new one, without counting deletes), the server's start time and
    the database's statistics reset time (both reset the counters). Equal signatures mean no row was
    deleted (updated) in between, so the costly key comparison (full re-read) is skipped. A change
    whose counter is not yet flushed is only seen one run later: it is delayed, never lost. None when
    the counters are switched off (`track_counts`): then keys are always compared."""
    relation = f"{quote_literal(quote_ident(schema) + '.' + quote_ident(table))}::regclass"

    def signature(counter: str) -> str:
        return (
            "case when current_setting('track_counts') = 'on' then concat_ws('|', pg_postmaster_start_time(), "
            "(select stats_reset from pg_stat_database where datname = current_database()), "
            f"(select string_agg(c.oid || ':' || c.relfilenode || ':' || coalesce(s.{counter}, 0), ',' order by c.oid) "
            "from pg_class c left join pg_stat_all_tables s on s.relid = c.oid "
            f"where c.oid = {relation} or c.oid in (select relid from pg_partition_tree({relation})))) end"
        )

    sql = f"select {signature('n_tup_del')} as delete_signature, {signature('n_tup_upd')} as update_signature"
    return con.execute(f"select delete_signature, update_signature from {_pg(sql)}").fetchone()


def delete_signature(con, schema: str, table: str) -> str | None:
    """The delete half of change_signatures (kept for callers that need only it)."""
    return change_signatures(con, schema, table)[0]


def _check_declared(spec: TableSpec, columns: list[str], schema: str, snapshot=()) -> None:
    """Every declared column must exist in the source: a misspelled or renamed column fails the
    table's load, naming it and the closest source column. One the last load read is schema drift."""
    read_before = {c: t for c, t, _ in snapshot}
    gone = [c for c in spec.declared_columns if c not in columns and c in read_before]
    if gone:
        raise SchemaDriftError(
            f"production table {spec.name}: schema drift: "
            + "; ".join(f"column {c} ({read_before[c]}) was dropped" for c in gone)
            + ". The raw table is left as it was; once the models and production_tables.yml are adapted, accept the "
            f"new schema with a full reload (delete from ops.source_columns where table_name = '{spec.name}')"
        )
    declared = (
        *spec.treatments(),
        ("primary_key", spec.primary_key),
        ("watermark", spec.watermark_columns),
    )
    for kind, names in declared:
        missing = [c for c in names if c not in columns]
        if missing:
            hints = "".join(close_match(c, columns) for c in missing)
            raise IngestError(
                f"production table {schema}.{spec.name}: {kind} column(s) {missing} not in the source{hints}; "
                "fix include/config/production_tables.yml"
            )
    for json_filter in spec.json_keys.values():
        if json_filter.by and json_filter.by not in columns:
            raise IngestError(f"production table {schema}.{spec.name}: json_keys_by column {json_filter.by} not in the source")
    for kind, names in (("primary_key", spec.primary_key), ("watermark", spec.watermark_columns)):
        hidden = [c for c in names if spec.treatment_of(c) != "keep"]
        if hidden:
            raise IngestError(f"production table {schema}.{spec.name}: {kind} column(s) {hidden} must be kept in clear")


def classify(spec: TableSpec, columns: list[tuple[str, str]]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(column, source type, treatment) of the columns read from PostgreSQL, and the names of the
    columns nobody classified (never read: personal data is denied by default)."""
    read, unclassified = [], []
    for name, source_type in columns:
        treatment = spec.treatment_of(name)
        if treatment is None:
            unclassified.append(name)
        elif treatment != "drop":
            read.append((name, source_type, treatment))
    return read, unclassified


def source_snapshot(con, table: str) -> list[tuple[str, str, str | None]]:
    """(column, source type, treatment) of the columns read at the table's last load, in table
    order; empty before the first."""
    return con.execute(
        "select column_name, source_type, treatment from ops.source_columns where table_name = ? order by ordinal", [table]
    ).fetchall()


def schema_drift(spec: TableSpec, snapshot, read: list[tuple[str, str, str]]) -> list[str]:
    """Compare the columns read now with the snapshot of the last load. Returns the changes that
    need a full reload (a column newly read or whose treatment changed: every row must get it);
    a column read before that the source dropped or retyped raises, naming table, column, old and
    new type."""
    previous = {c: (t, treatment) for c, t, treatment in snapshot}
    if not previous:
        return []
    current = {c: (t, treatment) for c, t, treatment in read}
    problems = [f"column {c} ({t}) was dropped" for c, (t, _) in previous.items() if c not in current and c not in spec.drop]
    problems += [
        f"column {c} changed type from {t} to {current[c][0]}"
        for c, (t, _) in previous.items()
        if c in current and current[c][0] != t
    ]
    if problems:
        raise SchemaDriftError(
            f"production table {spec.name}: schema drift: {'; '.join(problems)}. The raw table is left as it was; "
            f"once the models are adapted, accept the new schema with a full reload "
            f"(delete from ops.source_columns where table_name = '{spec.name}')"
        )
    changes = [f"column {c} ({t}) now read as {treatment}" for c, t, treatment in read if c not in previous]
    changes += [
        f"column {c} treatment {previous[c][1] or 'keep'} -> {treatment}"
        for c, _, treatment in read
        if c in previous and (previous[c][1] or "keep") != treatment
    ]
    changes += [f"column {c} no longer read" for c in previous if c not in current and c in spec.drop]
    return changes


# PostGIS as format_type writes it: geometry(MultiPolygon,4326)
_POSTGIS_TYPE = re.compile(r"^geometry\((\w+),\s*(\d+)\)$", re.IGNORECASE)


def geometry_srid(source_type: str) -> int | None:
    """The SRID a PostGIS column declares in its type, if any (the DuckDB postgres extension drops
    it; a column declared without one, plain `geometry`, keeps none)."""
    match = _POSTGIS_TYPE.match(source_type)
    return int(match[2]) if match else None


def _phone_and_email_patterns() -> dict[str, str]:
    patterns = pii.load_policy().content_scan["patterns"]
    return {"has_phone": patterns["french_phone"], "has_email": patterns["email"]}


def _json_filter_sql(col: str, json_filter: JsonFilter) -> str:
    """Only the declared keys of a JSON value (a key absent or null is left out); NULL stays NULL."""

    value = f"cast({col} as json)"

    def keep(keys) -> str:
        if not keys:
            return "null::json"
        pairs = ", ".join(f"{quote_literal(k)}, json_extract({value}, {quote_literal('$.' + quote_ident(k))})" for k in keys)
        return f"json_merge_patch('{{}}', json_object({pairs}))"  # keys absent or null are left out

    if json_filter.by:
        by = quote_ident(json_filter.by)
        branches = " ".join(f"when {quote_literal(v)} then {keep(keys)}" for v, keys in sorted(json_filter.keys_by_value.items()))
        body = f"case {by} {branches} else null::json end" if branches else "null::json"
    else:
        body = keep(json_filter.keys)
    return f"case when {col} is null then null::json else {body} end"


def _select_list(con, spec: TableSpec, read: list[tuple[str, str, str]], key: bytes | None) -> tuple[list[str], list[str]]:
    """The DuckDB projection over the PostgreSQL relation — hashed, derived, JSON filtered,
    stamped — and the output column names (the raw table's columns, stamps excluded)."""
    if spec.pseudonymise and any(t == "pseudonymise" for _, _, t in read):
        pii.install_key(con, pii.require_key(key))
    select, names = [], []
    for name, source_type, treatment in read:
        col = quote_ident(name)
        if treatment == "pseudonymise":
            select.append(f"{pii.hmac_sql(col)} as {col}")
            names.append(name)
        elif treatment.startswith("derive:"):
            patterns = _phone_and_email_patterns()
            for fn in spec.derive[name]:
                out = f"{name}_{fn}"
                expr = f"length({col})::integer" if fn == "length" else f"regexp_matches({col}, {quote_literal(patterns[fn])})"
                select.append(f"{expr} as {quote_ident(out)}")
                names.append(out)
        elif treatment.startswith("json_keys:"):
            select.append(f"{_json_filter_sql(col, spec.json_keys[name])} as {col}")
            names.append(name)
        elif source_type in ("json", "jsonb"):
            select.append(f"cast({col} as json) as {col}")  # arrives as text; keep it usable as JSON
            names.append(name)
        elif geometry_srid(source_type):
            # DuckDB's postgres extension drops the SRID and the warehouse file's storage version
            # cannot keep a CRS in the type: it travels in a companion column <name>_srid.
            select += [col, f"{geometry_srid(source_type)}::integer as {quote_ident(name + '_srid')}"]
            names += [name, f"{name}_srid"]
        else:
            select.append(col)
            names.append(name)
    select.append("cast(now() as timestamp) as _loaded_at")
    if spec.deletes == "flag":
        select.append("cast(null as timestamp) as _deleted_at")
    return select, names


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
            from zlv_dwh.source_guard import check_read_only_login  # it imports IngestError from here

            check_read_only_login(pg_dsn)  # the session's read-only mode alone is switchable by the session
            con.execute(f"attach {quote_literal(read_only_dsn(pg_dsn))} as pg (type postgres, read_only)")
            columns = source_columns(con, source_schema, spec.name)
            snapshot = source_snapshot(con, spec.name)
            _check_declared(spec, [c for c, _ in columns], source_schema, snapshot)
            read, record.unclassified_columns = classify(spec, columns)
            if record.unclassified_columns:
                log.warning(
                    "production table %s.%s: column(s) %s have no treatment in production_tables.yml and were NOT copied "
                    "(personal data is denied by default); classify them (keep, drop, pseudonymise, derive, json_keys) "
                    "to copy them: the next load then backfills every row",
                    source_schema,
                    spec.name,
                    ", ".join(record.unclassified_columns),
                )
            select, names = _select_list(con, spec, read, key)
            # Read before any row: a change during this load moves them and is caught next run.
            signatures = change_signatures(con, source_schema, spec.name) if spec.mode == "incremental" else (None, None)
            con.execute("begin transaction")
            changes = schema_drift(spec, snapshot, read)
            record.schema_changes = list(changes)
            state = con.execute(
                "select watermark, delete_signature, update_signature from ops.watermarks where table_name = ?", [spec.name]
            ).fetchone()
            reload_reason = None
            limit = dt.datetime.now(dt.UTC) + spec.future_tolerance
            if state and state[0] is not None and state[0] > limit:
                reload_reason = f"the committed watermark {state[0].isoformat()} is in the future"
            elif changes:
                reload_reason = "columns newly read or re-treated: every row is backfilled"
            elif spec.updates_in_place == "reload" and state and signatures[1] is not None and signatures[1] != state[2]:
                reload_reason = "PostgreSQL counted in-place updates the watermark cannot show"
            if spec.mode == "incremental" and state and loaded_before and reload_reason is None:
                _incremental(con, spec, names, select, source_schema, target_schema, state[0], record, read)
                record.deletes_checked = spec.deletes != "ignore" and (
                    spec.row_filter is not None or signatures[0] is None or signatures[0] != state[1]
                )
                if record.deletes_checked:
                    record.rows_deleted = _reconcile_deletes(con, spec, source_schema, target_schema)
            else:
                _full(con, spec, read, select, source_schema, target_schema, record)
                if reload_reason and loaded_before:
                    record.mode = f"{spec.mode} (full reload: {reload_reason})"
                    log.info("production table %s: full reload (%s)", spec.name, reload_reason)
            key_enforced = source_enforces_key(con, source_schema, spec.name, spec.primary_key)
            _finish(con, spec, target_schema, record, check_key=not key_enforced, signatures=signatures)
            if spec.known_names:
                incremental = record.watermark_from is not None and record.mode == spec.mode == "incremental"
                since = dt.datetime.fromisoformat(record.watermark_from) - spec.overlap if incremental else None
                _record_known_names(con, spec, source_schema, key, since)
            current = [(c, t, treatment) for c, t, treatment in read]
            if snapshot != current:  # the schema snapshot, rewritten only when it changed
                con.execute("delete from ops.source_columns where table_name = ?", [spec.name])
                con.executemany(
                    "insert into ops.source_columns (table_name, ordinal, column_name, source_type, treatment) "
                    "values (?, ?, ?, ?, ?)",
                    [(spec.name, i, c, t, treatment) for i, (c, t, treatment) in enumerate(current)],
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
            raise (type(exc) if isinstance(exc, IngestError) else IngestError)(message) from None
    if record.future_watermark_rows:
        log.warning(
            "production table %s: %d row(s) have a watermark later than now + %s (e.g. %s): the committed watermark "
            "stops at %s so later changes are still read; fix those dates in production",
            spec.name,
            record.future_watermark_rows,
            spec.future_tolerance,
            record.future_watermark_max,
            record.watermark_to,
        )
    log.info(
        "%s %s.%s: read %s, inserted %s, updated %s, deleted %s (%s), watermark %s -> %s%s%s",
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
        f"; NOT copied (unclassified): {', '.join(record.unclassified_columns)}" if record.unclassified_columns else "",
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


def _full(con, spec, read, select, source_schema, target_schema, record) -> None:
    """Replace the table: the new copy becomes visible only when the transaction commits."""
    target = f"{quote_ident(target_schema)}.{quote_ident(spec.name)}"
    record.mode = "full" if spec.mode == "full" else "incremental (initial full)"
    source = _source_relation(spec, [c for c, _, _ in read], source_schema)
    con.execute(f"create or replace table {target} as select {', '.join(select)} from {source}")
    record.rows_read = record.rows_inserted = con.execute(f"select count(*) from {target}").fetchone()[0]
    record.rows_updated = record.rows_deleted = 0


def _record_known_names(con, spec: TableSpec, source_schema: str, key: bytes | None, since: dt.datetime | None) -> None:
    """The keyed token hashes of the names in spec.known_names (pii.record_known_names), from the
    rows of this load: every row on a full load (the set is rebuilt), the increment's otherwise.
    The names are read from PostgreSQL into this process's memory only, hashed, never stored."""
    pii.install_key(con, pii.require_key(key))
    con.execute(pii.KNOWN_PEOPLE_DDL)
    where = [f"{spec.watermark_sql()} > {quote_literal(since.isoformat())}::timestamptz"] if since else []
    for group in spec.known_names:
        source = f"{spec.name}.{'+'.join(group)}"
        if since is None:
            con.execute("delete from ops.known_people_hashes where source = ?", [source])
        relation = _pg(_pg_query(spec, list(group), source_schema, where))
        name = "concat_ws(' ', " + ", ".join(quote_ident(c) for c in group) + ")"
        stored = pii.record_known_names(con, source, f"(select {name} as name from {relation})", "name")
        log.info("production table %s: %d keyed name hash(es) for the RGPD audit from %s", spec.name, stored, "+".join(group))


def _watermark_limit(spec: TableSpec) -> str:
    """DuckDB SQL for the latest watermark value a load may commit: now + the tolerance."""
    return f"(now() + interval {quote_literal(str(int(spec.future_tolerance.total_seconds())) + ' seconds')})"


def _newest_watermark(con, spec: TableSpec, relation: str, record) -> dt.datetime | None:
    """The newest watermark value of `relation` that is not in the future (beyond the tolerance);
    rows beyond it are counted into the record, never committed as the watermark."""
    stamp = spec.watermark_sql()
    limit = _watermark_limit(spec)
    newest, future, future_max = con.execute(
        f"select max({stamp}) filter (where {stamp} <= {limit}), count(*) filter (where {stamp} > {limit}), "
        f"max({stamp}) from {relation}"
    ).fetchone()
    if future:
        record.future_watermark_rows = (record.future_watermark_rows or 0) + future
        record.future_watermark_max = future_max.isoformat()
    return newest


def _incremental(con, spec, names, select, source_schema, target_schema, watermark, record, read) -> None:
    """Upsert the rows changed since the watermark (minus the overlap)."""
    target = f"{quote_ident(target_schema)}.{quote_ident(spec.name)}"
    since = watermark - spec.overlap
    record.watermark_from = watermark.isoformat()
    stamp = spec.watermark_sql()
    where = [f"{stamp} > {quote_literal(since.isoformat())}::timestamptz"]
    con.execute(
        f"create or replace temp table _zlv_delta as select {', '.join(select)} "
        f"from {_pg(_pg_query(spec, [c for c, _, _ in read], source_schema, where))}"
    )
    record.rows_read = con.execute("select count(*) from _zlv_delta").fetchone()[0]
    record.rows_deleted = 0
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
    newest = _newest_watermark(con, spec, "_zlv_delta", record)
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


def _finish(con, spec, target_schema, record, check_key: bool, signatures: tuple[str | None, str | None]) -> None:
    """Checks and state that commit with the data: key uniqueness (unless PostgreSQL enforces it),
    watermark (never beyond now + the tolerance) and PostgreSQL's change signatures."""
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
            newest = _newest_watermark(con, spec, target, record)
            record.watermark_to = newest.isoformat() if newest else None
        if record.watermark_to is not None:
            con.execute("delete from ops.watermarks where table_name = ?", [spec.name])
            con.execute(
                "insert into ops.watermarks (table_name, watermark, updated_at, delete_signature, update_signature) "
                "values (?, ?::timestamptz, now()::timestamp, ?, ?)",
                [spec.name, record.watermark_to, *signatures],
            )
