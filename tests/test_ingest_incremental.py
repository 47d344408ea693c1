"""Incremental loads, deletes, schema drift and type fidelity against a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import time

import duckdb
import psycopg
import pytest
from psycopg.types.json import Jsonb

from conftest import TEST_HASH_KEY, keyword_dsn, reader_login, scratch_database
from zlv_dwh import ingest_postgres as ip
from zlv_dwh import pii

_names = itertools.count()
T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def source_db(pg_admin):
    with scratch_database(pg_admin, "zlv_incr") as url:
        yield url


@pytest.fixture(scope="module")
def dsn(source_db):
    """The loads read through a SELECT-only login (they refuse the admin's)."""
    with reader_login(source_db, "zlv_incr_reader") as url:
        yield keyword_dsn(url)


@pytest.fixture
def table(source_db):
    """A fresh source table of 100 rows with every type the warehouse must keep."""
    name = f"accounts_{next(_names)}"
    with psycopg.connect(source_db, autocommit=True) as con:
        con.execute(
            f"create table {name} (id uuid primary key, email text, amount numeric(10, 2), ratio double precision,"
            " tags text[], payload jsonb, born date, active boolean, big bigint, code char(5),"
            " created_at timestamptz not null, updated_at timestamptz)"
        )
        with con.cursor().copy(f"copy {name} from stdin") as copy:
            for i in range(100):
                copy.write_row(
                    [
                        f"00000000-0000-4000-8000-{i:012d}",
                        f"person{i}@exemple.fr",
                        f"{i * 10}.25",
                        i / 3,
                        ["a", f"t{i}"],
                        Jsonb({"status": i % 6, "nested": {"k": [1, 2]}}),
                        dt.date(1950, 1, 1) + dt.timedelta(days=i),
                        i % 2 == 0,
                        2**40 + i,
                        f"{67000 + i}",
                        T0 - dt.timedelta(days=30),
                        None if i % 10 == 0 else T0 - dt.timedelta(hours=i),
                    ]
                )
    return name


KEPT = ("id", "amount", "ratio", "tags", "payload", "born", "active", "big", "code", "created_at", "updated_at")


def _spec(name, **kw):
    """Every column of the fixture table classified, as production_tables.yml must do."""
    base = dict(name=name, primary_key=("id",), keep=KEPT, pseudonymise=("email",))
    return ip.TableSpec(**{**base, **kw})


def _incremental(name, **kw):
    return _spec(name, mode="incremental", watermark="updated_at", watermark_fallback="created_at", **kw)


def _load(spec, dsn, wh, ext, run_id="r"):
    return ip.ingest_table(
        spec, pg_dsn=dsn, warehouse=wh, run_id=run_id, key=TEST_HASH_KEY, extension_dir=ext, source_schema="public"
    )


def _pg(source_db, sql, params=None):
    with psycopg.connect(source_db, autocommit=True) as con:
        con.execute(sql, params)


def test_types_survive_field_by_field(table, source_db, dsn, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    _load(_spec(table), dsn, wh, ext)
    cols = "id, amount, ratio, tags, payload, born, active, big, code, created_at, updated_at"
    with psycopg.connect(source_db) as con:
        source = {r[0]: r for r in con.execute(f"select {cols}, email from {table} order by id limit 25").fetchall()}
    duck = duckdb.connect(str(wh), read_only=True)
    copied = {r[0]: r for r in duck.execute(f"select {cols}, email from raw_production.{table} order by id limit 25").fetchall()}
    assert copied.keys() == source.keys()
    for key, src in source.items():
        got = copied[key]
        assert got[1] == src[1] and str(got[1]) == str(src[1])  # numeric exact, scale kept
        assert got[2] == src[2] and got[3] == src[3]  # double, text[] as a list
        assert json.loads(got[4]) == src[4]  # jsonb usable as JSON
        assert got[5:10] == src[5:10]  # date, boolean, bigint, char, timestamptz (aware, same instant)
        assert got[10] == src[10]
        assert got[11] == pii.hmac_sha256_hex(TEST_HASH_KEY, src[11])
    types = dict(
        duck.execute(f"select column_name, data_type from information_schema.columns where table_name = '{table}'").fetchall()
    )
    assert types["payload"] == "JSON" and types["amount"] == "DECIMAL(10,2)" and types["tags"] == "VARCHAR[]"
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE" and types["id"] == "UUID"
    assert duck.execute(f"select payload->>'$.nested.k[1]' from raw_production.{table} limit 1").fetchone() == ("2",)


def test_incremental_upserts_changes_applies_deletes_and_commits_the_watermark(table, source_db, dsn, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    first = _load(_incremental(table), dsn, wh, ext, "r1")
    assert first.mode == "incremental (initial full)" and first.rows_loaded == 100
    assert first.watermark_to == (T0 - dt.timedelta(hours=1)).isoformat()
    now = T0 + dt.timedelta(hours=1)
    _pg(
        source_db,
        f"update {table} set amount = amount + 1, updated_at = %s where id in (select id from {table} order by id limit 3)",
        [now],
    )
    _pg(
        source_db,
        f"insert into {table} (id, email, created_at, updated_at) values "
        "('10000000-0000-4000-8000-000000000001', 'new1@x.fr', %s, %s), ('10000000-0000-4000-8000-000000000002', null, %s, null)",
        [now, now, now],
    )
    _pg(source_db, f"delete from {table} where id = '00000000-0000-4000-8000-000000000050'")
    _deleted_tuples_counted(source_db, table, 1)
    second = _load(_incremental(table), dsn, wh, ext, "r2")
    assert (second.rows_inserted, second.rows_updated, second.rows_deleted) == (2, 3, 1)
    assert second.rows_loaded == 101 and second.watermark_to == now.isoformat()
    third = _load(_incremental(table), dsn, wh, ext, "r3")  # nothing changed: the overlap re-reads, writes nothing
    assert (third.rows_inserted, third.rows_updated, third.rows_deleted) == (0, 0, 0) and third.rows_read >= 5
    duck = duckdb.connect(str(wh), read_only=True)
    assert duck.execute(f"select count(*) from raw_production.{table} where amount = 1.25").fetchone() == (1,)  # was 0.25
    logged = duck.execute(
        "select run_id, mode, rows_inserted, rows_updated, rows_deleted, watermark_from, watermark_to, status, duration_s "
        "from ops.load_log order by started_at"
    ).fetchall()
    assert [r[0] for r in logged] == ["r1", "r2", "r3"] and {r[7] for r in logged} == {"success"}
    assert logged[1][5] == first.watermark_to and logged[1][6] == now.isoformat() and logged[1][8] > 0


def test_a_late_commit_inside_the_overlap_window_is_caught(table, source_db, dsn, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    first = _load(_incremental(table), dsn, wh, ext)
    late = dt.datetime.fromisoformat(first.watermark_to) - dt.timedelta(minutes=4)
    _pg(
        source_db,
        f"insert into {table} (id, created_at, updated_at) values ('20000000-0000-4000-8000-000000000001', %s, %s)",
        [late, late],
    )
    assert _load(_incremental(table), dsn, wh, ext).rows_inserted == 1


def test_deletes_can_be_flagged_instead_of_applied(table, source_db, dsn, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    _load(_incremental(table, deletes="flag"), dsn, wh, ext)
    _pg(source_db, f"delete from {table} where id = '00000000-0000-4000-8000-000000000007'")
    _deleted_tuples_counted(source_db, table, 1)
    record = _load(_incremental(table, deletes="flag"), dsn, wh, ext)
    assert record.rows_deleted == 1 and record.rows_loaded == 100
    duck = duckdb.connect(str(wh), read_only=True)
    assert duck.execute(f"select id::varchar from raw_production.{table} where _deleted_at is not null").fetchall() == [
        ("00000000-0000-4000-8000-000000000007",)
    ]


def test_a_failed_incremental_load_keeps_rows_and_watermark(table, source_db, dsn, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    first = _load(_incremental(table), dsn, wh, ext, "r1")
    # A key duplicated in the source (constraint dropped): the load must fail as a whole.
    _pg(source_db, f"alter table {table} drop constraint {table}_pkey")
    later = T0 + dt.timedelta(days=1)
    _pg(source_db, f"update {table} set updated_at = %s where id = '00000000-0000-4000-8000-000000000001'", [later])
    _pg(
        source_db,
        f"insert into {table} (id, email, created_at, updated_at) values "
        "('00000000-0000-4000-8000-000000000001', 'twin@x.fr', %s, %s)",
        [later, later],
    )
    with pytest.raises(ip.IngestError, match=f"{table}: 1 duplicate value"):
        _load(_incremental(table), dsn, wh, ext, "r2")
    duck = duckdb.connect(str(wh), read_only=True)
    assert duck.execute(f"select count(*) from raw_production.{table}").fetchone() == (100,)
    assert (
        duck.execute("select watermark from ops.watermarks where table_name = ?", [table]).fetchone()[0].isoformat()
        == first.watermark_to
    )
    assert duck.execute("select status from ops.load_log where run_id = 'r2'").fetchone() == ("failed",)


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_a_new_source_column_is_not_copied_until_classified_then_backfilled_on_every_row(
    table, source_db, dsn, tmp_path, ext, mode, caplog
):
    spec = _spec(table) if mode == "full" else _incremental(table)
    wh = tmp_path / "wh.duckdb"
    _load(spec, dsn, wh, ext)
    _pg(source_db, f"alter table {table} add column owner_phone text default '06 12 34 56 78'")
    _pg(
        source_db,
        f"update {table} set updated_at = %s where id = '00000000-0000-4000-8000-000000000003'",
        [T0 + dt.timedelta(days=2)],
    )
    with caplog.at_level("WARNING", logger="zlv_dwh.ingest_postgres"):
        record = _load(spec, dsn, wh, ext, "drift")
    assert record.unclassified_columns == ["owner_phone"] and record.schema_changes == []
    assert "owner_phone have no treatment" in caplog.text and "NOT copied" in caplog.text
    duck = duckdb.connect(str(wh), read_only=True)
    columns = {r[0] for r in duck.execute(f"describe raw_production.{table}").fetchall()}
    assert "owner_phone" not in columns
    assert duck.execute("select unclassified_columns from ops.load_log where run_id = 'drift'").fetchone() == ("owner_phone",)
    duck.close()
    # classified later: the next load reads it on every row, not only on the increment's rows
    classified = ip.TableSpec(**{**spec.__dict__, "keep": (*KEPT, "owner_phone")})
    record = _load(classified, dsn, wh, ext, "classified")
    assert record.schema_changes == ["column owner_phone (text) now read as keep"]
    assert record.unclassified_columns == [] and "full reload" in record.mode if mode == "incremental" else True
    duck = duckdb.connect(str(wh), read_only=True)
    assert duck.execute(f"select count(owner_phone), count(*) from raw_production.{table}").fetchone() == (100, 100)
    # and a treatment change (kept -> pseudonymised) rewrites every row too
    duck.close()
    hashed = ip.TableSpec(**{**spec.__dict__, "pseudonymise": ("email", "owner_phone")})
    record = _load(hashed, dsn, wh, ext, "hashed")
    assert record.schema_changes == ["column owner_phone treatment keep -> pseudonymise"]
    duck = duckdb.connect(str(wh), read_only=True)
    assert duck.execute(f"select count(*) from raw_production.{table} where owner_phone like '06%'").fetchone() == (0,)


@pytest.mark.parametrize(
    "change, message",
    [
        ("alter column amount type text", "column amount changed type from numeric(10,2) to text"),
        ("drop column ratio", "column ratio (double precision) was dropped"),
    ],
)
@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_a_dropped_or_retyped_column_fails_and_keeps_the_raw_table(table, source_db, dsn, tmp_path, ext, change, message, mode):
    spec = _spec(table) if mode == "full" else _incremental(table)
    wh = tmp_path / "wh.duckdb"
    _load(spec, dsn, wh, ext)
    _pg(source_db, f"alter table {table} {change}")
    with pytest.raises(ip.SchemaDriftError, match=re.escape(f"production table {table}: schema drift: {message}")):
        _load(spec, dsn, wh, ext)
    duck = duckdb.connect(str(wh), read_only=True)
    types = dict(
        duck.execute(f"select column_name, data_type from information_schema.columns where table_name = '{table}'").fetchall()
    )
    assert types["amount"] == "DECIMAL(10,2)" and "ratio" in types
    assert duck.execute(f"select count(*) from raw_production.{table}").fetchone() == (100,)


def test_declarations_are_validated():
    with pytest.raises(ValueError, match="needs a watermark"):
        ip.TableSpec(name="t", primary_key=("id",), mode="incremental")
    with pytest.raises(ValueError, match="deletes must be one of"):
        ip.TableSpec(name="t", primary_key=("id",), deletes="sometimes")


def _deleted_tuples_counted(source_db, table, at_least):
    """PostgreSQL publishes a session's counters shortly after it ends: wait (bounded) until it has."""
    with psycopg.connect(source_db, autocommit=True) as con:
        for _ in range(100):
            n = con.execute(
                "select coalesce(n_tup_del, 0) from pg_stat_all_tables where relid = %s::regclass", [table]
            ).fetchone()[0]
            if n >= at_least:
                return
            time.sleep(0.05)
    raise AssertionError(f"PostgreSQL never counted {at_least} deleted tuple(s) of {table}")


def test_keys_are_compared_only_when_postgresql_counted_deletes_or_a_truncate(table, source_db, dsn, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    assert _load(_incremental(table), dsn, wh, ext).deletes_checked is None  # initial full copy
    later = T0 + dt.timedelta(hours=2)
    _pg(source_db, f"update {table} set updated_at = %s where id = '00000000-0000-4000-8000-000000000003'", [later])
    updated = _load(_incremental(table), dsn, wh, ext)
    assert (updated.rows_updated, updated.deletes_checked, updated.rows_deleted) == (1, False, 0)

    _pg(source_db, f"delete from {table} where id = '00000000-0000-4000-8000-000000000004'")
    _deleted_tuples_counted(source_db, table, 1)
    deleted = _load(_incremental(table), dsn, wh, ext)
    assert (deleted.deletes_checked, deleted.rows_deleted, deleted.rows_loaded) == (True, 1, 99)
    assert _load(_incremental(table), dsn, wh, ext).deletes_checked is False

    # TRUNCATE counts no deleted tuple but gives the table a new file: keys are compared.
    with psycopg.connect(source_db) as con:
        con.execute(f"create temp table keep as select * from {table} where id <> '00000000-0000-4000-8000-000000000005'")
        con.execute(f"truncate {table}")
        con.execute(f"insert into {table} select * from keep")
    reloaded = _load(_incremental(table), dsn, wh, ext)
    assert (reloaded.deletes_checked, reloaded.rows_deleted, reloaded.rows_loaded) == (True, 1, 98)
    duck = duckdb.connect(str(wh), read_only=True)
    assert duck.execute("select list(deletes_checked order by started_at) from ops.load_log").fetchone()[0] == [
        None,
        False,
        True,
        False,
        True,
    ]


def test_a_future_watermark_is_not_committed_and_later_changes_are_still_read(table, source_db, dsn, tmp_path, ext):
    spec = _incremental(table)
    wh = tmp_path / "wh.duckdb"
    _pg(source_db, f"update {table} set updated_at = '2099-01-01' where id = '00000000-0000-4000-8000-000000000007'")
    first = _load(spec, dsn, wh, ext, "first")
    assert first.future_watermark_rows == 1 and first.future_watermark_max.startswith("2099-01-01")
    assert dt.datetime.fromisoformat(first.watermark_to) <= dt.datetime.now(dt.UTC) + spec.future_tolerance
    # an update and an insert made after the first load must be read, although 2099 > their dates
    _pg(source_db, f"update {table} set amount = 1, updated_at = now() where id = '00000000-0000-4000-8000-000000000005'")
    _pg(
        source_db,
        f"insert into {table} (id, email, created_at, updated_at) values ('00000000-0000-4000-8000-000000000500', 'n@x.fr', now(), now())",
    )
    second = _load(spec, dsn, wh, ext, "second")
    assert (second.rows_inserted, second.rows_updated) == (1, 1)
    duck = duckdb.connect(str(wh), read_only=True)
    assert (
        duck.execute(f"select amount from raw_production.{table} where id = '00000000-0000-4000-8000-000000000005'").fetchone()[0]
        == 1
    )
    assert duck.execute("select future_watermark_rows from ops.load_log where run_id = 'second'").fetchone() == (1,)


def test_a_committed_future_watermark_is_repaired_by_a_full_reload(table, source_db, dsn, tmp_path, ext):
    spec = _incremental(table)
    wh = tmp_path / "wh.duckdb"
    _load(spec, dsn, wh, ext, "first")
    with duckdb.connect(str(wh)) as duck:  # as an older version of the loader would have left it
        duck.execute(f"update ops.watermarks set watermark = '2099-01-01' where table_name = '{table}'")
    _pg(source_db, f"update {table} set amount = 2, updated_at = now() where id = '00000000-0000-4000-8000-000000000006'")
    record = _load(spec, dsn, wh, ext, "repair")
    assert "full reload" in record.mode and "in the future" in record.mode
    duck = duckdb.connect(str(wh), read_only=True)
    assert (
        duck.execute(f"select amount from raw_production.{table} where id = '00000000-0000-4000-8000-000000000006'").fetchone()[0]
        == 2
    )


def test_a_soft_delete_that_leaves_updated_at_is_seen_through_a_second_watermark_column(source_db, dsn, tmp_path, ext):
    name = f"notes_{next(_names)}"
    _pg(
        source_db,
        f"create table {name} (id int primary key, content text, created_at timestamptz not null, "
        "updated_at timestamptz, deleted_at timestamptz)",
    )
    _pg(
        source_db,
        f"insert into {name} select i, 'note ' || i, now() - interval '3 days', null, null from generate_series(1, 10) i",
    )
    spec = ip.TableSpec(
        name=name,
        primary_key=("id",),
        mode="incremental",
        watermark=("updated_at", "deleted_at"),
        watermark_fallback="created_at",
        keep=("id", "created_at", "updated_at", "deleted_at"),
        derive={"content": ("length",)},
    )
    wh = tmp_path / "wh.duckdb"
    _load(spec, dsn, wh, ext, "first")
    _pg(source_db, f"update {name} set deleted_at = now() where id = 4")  # ZLV's soft delete: updated_at untouched
    record = _load(spec, dsn, wh, ext, "second")
    assert record.rows_updated == 1
    duck = duckdb.connect(str(wh), read_only=True)
    assert duck.execute(f"select id from raw_production.{name} where deleted_at is not null").fetchall() == [(4,)]
    assert "content" not in {r[0] for r in duck.execute(f"describe raw_production.{name}").fetchall()}
    assert duck.execute(f"select min(content_length) from raw_production.{name}").fetchone() == (6,)


def test_an_erased_payload_and_a_deleted_event_reach_the_raw_copy(source_db, dsn, tmp_path, ext):
    """Append-only by created_at, but production blanks payloads in place and deletes events."""
    name = f"events_{next(_names)}"
    _pg(source_db, f"create table {name} (id int primary key, type text, next_new jsonb, created_at timestamptz not null)")
    _pg(
        source_db,
        f"insert into {name} select i, 'housing:status-updated', jsonb_build_object('status', 'Suivi en cours'), "
        "now() - interval '1 day' from generate_series(1, 20) i",
    )
    spec = ip.TableSpec(
        name=name,
        primary_key=("id",),
        mode="incremental",
        watermark="created_at",
        updates_in_place="reload",
        keep=("id", "type", "next_new", "created_at"),
    )
    wh = tmp_path / "wh.duckdb"
    _load(spec, dsn, wh, ext, "first")
    nothing = _load(spec, dsn, wh, ext, "nothing")
    assert "full reload" not in nothing.mode  # no update counted: the cheap incremental path
    _pg(source_db, f"update {name} set next_new = null where id = 3")  # an erasure: created_at unchanged
    _pg(source_db, f"delete from {name} where id = 5")
    for attempt in range(20):  # PostgreSQL publishes its counters when the writing session ends
        record = _load(spec, dsn, wh, ext, f"erasure{attempt}")
        if "full reload" in record.mode:
            break
        time.sleep(0.5)
    assert "in-place updates" in record.mode
    duck = duckdb.connect(str(wh), read_only=True)
    assert duck.execute(f"select next_new from raw_production.{name} where id = 3").fetchone() == (None,)
    assert duck.execute(f"select count(*) from raw_production.{name} where id = 5").fetchone() == (0,)
    assert duck.execute(f"select count(*) from raw_production.{name}").fetchone() == (19,)
