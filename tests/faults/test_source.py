"""Faults of the production PostgreSQL source: the connection dropped mid-copy, schema drift, a
write attempt through the loader's connection, and hostile identifiers in the configuration."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import duckdb
import psycopg
import pytest

from conftest import TEST_HASH_KEY
from faults.conftest import pg, pg_one, wh_one
from zlv_dwh import ingest_postgres as ip
from zlv_dwh.warehouse import connect, quote_literal

ROWS = 500_000


def _load(spec, dsn, wh, ext, run_id="run"):
    return ip.ingest_table(spec, pg_dsn=dsn, warehouse=wh, run_id=run_id, key=TEST_HASH_KEY, extension_dir=ext)


@pytest.fixture(scope="module")
def big_source(fault_db):
    pg(
        fault_db,
        "drop table if exists drop_src",
        "create table drop_src (id bigint primary key, label text, amount numeric(12,2), updated_at timestamptz not null)",
        "insert into drop_src select i, 'label ' || i, i * 1.5, '2026-01-01'::timestamptz + i * interval '1 s' "
        f"from generate_series(1, {ROWS}) i",
    )
    return "drop_src"


def _terminate(admin_url: str, done: threading.Event, query_like: str, after_s: float) -> int:
    """Terminate the loader's backends running a COPY whose text is like `query_like` as soon as one
    has run `after_s` seconds (rows are then flowing); how many were terminated."""
    sql = (
        "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = 'zlv_fault_loader' "
        f"and state = 'active' and query ilike 'copy%' and query like '{query_like}' "
        f"and clock_timestamp() - query_start >= make_interval(secs => {after_s})"
    )
    with psycopg.connect(admin_url, autocommit=True) as con:
        while not done.is_set():
            killed = con.execute(sql).fetchone()[0]
            if killed:
                return killed
            time.sleep(0.001)
    return 0


def _load_with_dropped_connection(spec, fault_db, loader_dsn, wh, ext, query_like="%label%", after_s=0.05):
    done = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        killer = pool.submit(_terminate, fault_db, done, query_like, after_s)
        load = pool.submit(_load, spec, loader_dsn, wh, ext, "dropped")
        try:
            error = load.exception(timeout=120)
        finally:
            done.set()
        assert killer.result() > 0, "no COPY was seen to terminate"
    return error


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_connection_dropped_mid_copy_fails_clearly_and_the_retry_loads_every_row_once(
    fault, big_source, fault_db, loader_dsn, tmp_path, ext, mode
):
    incremental = {"mode": "incremental", "watermark": "updated_at"} if mode == "incremental" else {}
    spec = ip.TableSpec(name=big_source, primary_key=("id",), keep_unclassified=True, **incremental)
    wh = tmp_path / "wh.duckdb"
    fault.watch(wh)
    if mode == "incremental":  # a first load, then a delta big enough to be cut
        _load(spec, loader_dsn, wh, ext, "first")
        pg(fault_db, f"update {big_source} set label = label || ' v2', updated_at = now() where id > {ROWS // 2}")
    before = wh_one(wh, f"select count(*) from raw_production.{big_source}") if mode == "incremental" else None

    fault.inject(f"PostgreSQL connection dropped mid-copy ({mode} load)")
    error = _load_with_dropped_connection(spec, fault_db, loader_dsn, wh, ext)
    assert isinstance(error, ip.IngestError), repr(error)
    fault.watch_text(str(error))
    # PostgreSQL's own words for the drop, or libpq's when the socket closed first: timing decides.
    assert str(error).startswith(f"production table public.{big_source}: ")
    assert "terminating connection" in str(error) or "closed the connection" in str(error), str(error)
    assert wh_one(wh, "select status from ops.load_log where run_id = 'dropped'") == ("failed",)
    if mode == "incremental":
        assert wh_one(wh, f"select count(*) from raw_production.{big_source}") == before
        assert wh_one(wh, f"select count(*) from raw_production.{big_source} where label like '% v2'") == (0,)

    _load(spec, loader_dsn, wh, ext, "retry")
    source = pg_one(fault_db, f"select count(*), count(*) filter (where label like '% v2') from {big_source}")
    loaded = wh_one(
        wh, f"select count(*), count(distinct id), count(*) filter (where label like '% v2') from raw_production.{big_source}"
    )
    fault.rows_lost += max(0, source[0] - loaded[1])
    assert loaded == (source[0], source[0], source[1]), "every source row once, at its latest version"


def test_connection_dropped_while_reading_source_metadata_fails_with_a_short_clear_error(
    fault, fault_db, loader_dsn, tmp_path, ext
):
    """The first queries (columns, delete counters) are short: the load is retried until the drop
    lands on one while it runs (a drop just after it has sent its rows leaves an idle connection,
    which the postgres extension replaces for the next query: that load succeeds, rightly). The
    error names the table and the reason, not the SQL DuckDB sent."""
    pg(
        fault_db,
        "drop table if exists meta_src",
        "create table meta_src (id int primary key, label text, updated_at timestamptz not null)",
        "insert into meta_src select i, 'l' || i, now() from generate_series(1, 100) i",
    )
    spec = ip.TableSpec(name="meta_src", primary_key=("id",), mode="incremental", watermark="updated_at", keep_unclassified=True)
    wh = tmp_path / "wh.duckdb"
    _load(spec, loader_dsn, wh, ext, "first")
    fault.inject("PostgreSQL connection dropped on a metadata query")
    for _ in range(40):
        done = threading.Event()
        with ThreadPoolExecutor(2) as pool:
            killer = pool.submit(_terminate, fault_db, done, "%signature%", 0)
            error = pool.submit(_load, spec, loader_dsn, wh, ext, "dropped").exception(timeout=60)
            done.set()
            hit = killer.result()
        if hit and error is not None:
            break
    assert hit and error is not None, "the drop never landed on a running metadata query"
    assert isinstance(error, ip.IngestError), repr(error)
    fault.watch_text(str(error))
    first_line = str(error).splitlines()[0]
    assert first_line.startswith("production table public.meta_src: ") and "select" not in first_line.lower(), first_line
    assert "closed the connection" in str(error) or "terminating connection" in str(error)
    assert len(first_line) < 200, first_line
    _load(spec, loader_dsn, wh, ext, "retry")
    assert wh_one(wh, "select count(*), count(distinct id) from raw_production.meta_src") == (100, 100)


@pytest.fixture
def drift_table(fault_db, request):
    name = f"drift_{request.node.callspec.id}".replace("-", "_")
    pg(
        fault_db,
        f"drop table if exists {name}",
        f"create table {name} (id int primary key, label text, amount numeric(10, 2), updated_at timestamptz not null)",
        f"insert into {name} select i, 'l' || i, i, now() from generate_series(1, 50) i",
    )
    return name


@pytest.mark.parametrize(
    "change, expected",
    [
        ("add column energy_class text default 'F'", "added"),
        ("drop column label", "column label (text) was dropped"),
        ("alter column amount type text", "column amount changed type from numeric(10,2) to text"),
        ("drop table", "not found"),
    ],
    ids=["column_added", "column_dropped", "column_retyped", "table_dropped"],
)
def test_schema_drift_is_reported_or_refused_and_the_raw_table_is_kept(
    fault, fault_db, loader_dsn, tmp_path, ext, drift_table, change, expected
):
    spec = ip.TableSpec(name=drift_table, primary_key=("id",), keep=("id", "label", "amount", "updated_at"))
    wh = tmp_path / "wh.duckdb"
    _load(spec, loader_dsn, wh, ext, "first")
    before = wh_one(wh, f"select count(*), sum(hash(id, label, amount)) from raw_production.{drift_table}")

    fault.inject(f"production schema drift: {change.split(' type')[0]}")
    pg(fault_db, f"drop table {drift_table}" if change == "drop table" else f"alter table {drift_table} {change}")
    if expected == "added":
        record = _load(spec, loader_dsn, wh, ext, "drift")  # deny by default: loads, without the new column
        assert record.unclassified_columns == ["energy_class"] and record.schema_changes == []
        assert wh_one(wh, "select count(*) from information_schema.columns where column_name = 'energy_class'") == (0,)
        assert wh_one(wh, f"select count(*), sum(hash(id, label, amount)) from raw_production.{drift_table}") == before
        return
    with pytest.raises(ip.IngestError, match=f"{drift_table}.*{re.escape(expected)}") as failure:
        _load(spec, loader_dsn, wh, ext, "drift")
    fault.watch_text(str(failure.value))
    after = wh_one(wh, f"select count(*), sum(hash(id, label, amount)) from raw_production.{drift_table}")
    fault.rows_lost += max(0, before[0] - after[0])
    assert after == before
    assert wh_one(wh, "select status from ops.load_log where run_id = 'drift'") == ("failed",)


def test_the_production_connection_refuses_writes(fault, fault_db, loader_dsn, tmp_path, ext):
    """Tried three ways: a plain write, a write in an explicit read-write transaction (only the
    login's privileges stop it), and a write through the DuckDB attachment the loader uses."""
    pg(fault_db, "drop table if exists guarded", "create table guarded as select 1 as id")
    fault.inject("write through the loader's session")
    with psycopg.connect(ip.read_only_dsn(loader_dsn)) as con:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            con.execute("insert into guarded values (2)")
    fault.inject("write in a read-write transaction of the loader's login")
    with psycopg.connect(ip.read_only_dsn(loader_dsn), autocommit=True) as con:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with con.transaction():
                con.execute("set transaction read write")
                con.execute("delete from guarded")
    fault.inject("write through the DuckDB attachment")
    with connect(tmp_path / "wh.duckdb", extensions=["postgres"], extension_dir=ext) as con:
        con.execute(f"attach {quote_literal(ip.read_only_dsn(loader_dsn))} as pg (type postgres, read_only)")
        with pytest.raises(duckdb.Error, match="read-only|read only"):
            con.execute("insert into pg.public.guarded values (3)")
        with pytest.raises(duckdb.Error, match="read-only|read only"):
            con.execute("select * from postgres_execute('pg', 'delete from guarded')")
    assert pg_one(fault_db, "select count(*) from guarded") == (1,)


HOSTILE_COLUMN = 'x"; drop table raw_production.victim; --'
HOSTILE_TABLE = "t'); drop table raw_production.victim; --"


def test_hostile_identifiers_in_the_configuration_are_quoted(fault, fault_db, loader_dsn, tmp_path, ext):
    table = HOSTILE_TABLE.replace('"', '""')
    column = HOSTILE_COLUMN.replace('"', '""')
    pg(
        fault_db,
        f'drop table if exists "{table}"',
        f'create table "{table}" (id int primary key, "{column}" text, "e""mail" text, updated_at timestamptz not null)',
        f"insert into \"{table}\" select i, 'v' || i, 'p' || i || '@x.fr', now() from generate_series(1, 20) i",
    )
    config = tmp_path / "production_tables.yml"
    config.write_text(
        "connection_id: zlv_production\nschema: public\ntarget_schema: raw_production\ntables:\n"
        f"  {HOSTILE_TABLE!r}:\n    primary_key: [id, {HOSTILE_COLUMN!r}]\n    mode: incremental\n"
        "    watermark: updated_at\n    columns:\n      id: keep\n"
        f"      {HOSTILE_COLUMN!r}: keep\n      'e\"mail': pseudonymise\n      updated_at: keep\n",
        encoding="utf-8",
    )
    spec = ip.load_config(config).tables[HOSTILE_TABLE]
    wh = tmp_path / "wh.duckdb"
    with connect(wh) as con:
        con.execute("create schema raw_production; create table raw_production.victim as select 42 as answer")
    fault.inject("hostile table and column names in production_tables.yml")
    _load(spec, loader_dsn, wh, ext, "first")
    _load(spec, loader_dsn, wh, ext, "again")  # the incremental path quotes them too
    assert wh_one(wh, "select answer from raw_production.victim") == (42,)
    assert wh_one(
        wh,
        f"select count(*), count(distinct {ip.quote_ident(HOSTILE_COLUMN)}) from raw_production.{ip.quote_ident(HOSTILE_TABLE)}",
    ) == (20, 20)
    assert wh_one(wh, f'select count(*) from raw_production.{ip.quote_ident(HOSTILE_TABLE)} where "e""mail" like \'%@%\'') == (0,)
    assert pg_one(fault_db, f'select count(*) from "{table}"') == (20,)
