import duckdb
import pytest

from zlv_dwh.warehouse import WarehouseLockTimeout, connect, quote_ident, write_lock


def test_second_writer_waits_then_fails_with_a_clear_error(tmp_path):
    db = tmp_path / "wh.duckdb"
    with connect(db) as con:
        con.execute("create table t as select 1 as a")
        with pytest.raises(WarehouseLockTimeout, match="locked by another writer"):
            with write_lock(db, timeout_s=0.5):
                pass
    with connect(db, lock_timeout_s=1) as con:  # released on exit
        assert con.execute("select a from t").fetchone() == (1,)


def test_new_warehouse_file_is_private(tmp_path):
    db = tmp_path / "wh.duckdb"
    with connect(db) as con:
        con.execute("select 1")
    assert (db.stat().st_mode & 0o777) == 0o600


def test_quoted_identifier_cannot_inject_sql(tmp_path):
    hostile = 'x"; drop table victim; --'
    con = duckdb.connect()
    con.execute("create table victim as select 1 as a")
    con.execute(f"create table {quote_ident(hostile)} as select 1 as a")
    assert con.execute("select count(*) from victim").fetchone() == (1,)
    assert hostile in [r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()]


def test_writers_run_under_a_fixed_memory_limit(tmp_path, monkeypatch):
    # bench/README.md: RSS stops growing at the limit; below 512 MB a 10M-row incremental load failed.
    monkeypatch.delenv("ZLV_DUCKDB_MEMORY_LIMIT", raising=False)
    with connect(tmp_path / "w.duckdb") as con:
        assert con.execute("select current_setting('memory_limit')").fetchone()[0] == "488.2 MiB"  # 512 MB
        assert con.execute("select current_setting('preserve_insertion_order')").fetchone()[0] is False
    monkeypatch.setenv("ZLV_DUCKDB_MEMORY_LIMIT", "128MB")
    with connect(tmp_path / "w.duckdb") as con:
        assert con.execute("select current_setting('memory_limit')").fetchone()[0] == "122.0 MiB"
    monkeypatch.setenv("ZLV_DUCKDB_MEMORY_LIMIT", "1GB'; drop table x; --")
    with pytest.raises(ValueError, match="ZLV_DUCKDB_MEMORY_LIMIT must look like"):
        with connect(tmp_path / "w.duckdb"):
            pass
