"""The production login is proved read-only before every load, against the real PostgreSQL: each
way a login could write is refused with the statement that fixes it; the reader the demo and the
README create is accepted."""

from __future__ import annotations

import logging
import os

import duckdb
import psycopg
import pytest

from conftest import TEST_HASH_KEY, keyword_dsn, reader_login, scratch_database
from zlv_dwh import ingest_postgres as ip
from zlv_dwh import source_guard
from zlv_dwh.settings import REPO_ROOT

PASSWORD = "zlv-guard-test-password-8d2a"


@pytest.fixture(scope="module")
def guard_db(pg_admin):
    """Admin URL of a small source database of its own (the grants below stay out of production_db)."""
    with scratch_database(pg_admin, "zlv_guard") as url:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("create table parcels (id int primary key, label text)")
            con.execute("insert into parcels select i, 'parcel ' || i from generate_series(1, 10) i")
        yield url


def _admin(url: str, *statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as con:
        for statement in statements:
            con.execute(statement)


@pytest.fixture
def reader(guard_db, request):
    """(role, keyword DSN) of a proper reader made for this test; each test then adds one right."""
    prefix = "zlv_guard_" + request.node.name.removeprefix("test_")[:30]
    with reader_login(guard_db, prefix, password=PASSWORD) as url:
        yield psycopg.conninfo.conninfo_to_dict(url)["user"], keyword_dsn(url)


@pytest.fixture
def writer_role(guard_db):
    """A group role that may insert into parcels (dropped afterwards)."""
    role = f"zlv_guard_writer_{os.getpid()}"
    _admin(guard_db, f"drop role if exists {role}", f"create role {role} nologin", f"grant insert on parcels to {role}")
    yield role
    _admin(guard_db, f"drop owned by {role}", f"drop role {role}")


def _refusal(dsn: str) -> str:
    with pytest.raises(source_guard.WritableLoginError) as refused:
        source_guard.check_read_only_login(dsn)
    return str(refused.value)


def _load(dsn: str, wh, ext, run_id: str = "guard"):
    spec = ip.TableSpec(name="parcels", primary_key=("id",), keep=("id", "label"))
    return ip.ingest_table(spec, pg_dsn=dsn, warehouse=wh, run_id=run_id, key=TEST_HASH_KEY, extension_dir=ext)


def test_the_superuser_is_refused(guard_db):
    message = _refusal(keyword_dsn(guard_db))
    login = psycopg.conninfo.conninfo_to_dict(guard_db)["user"]
    assert f"production login {login} on database zlv_guard_{os.getpid()} is not read-only" in message
    assert "SUPERUSER" in message and "dedicated SELECT-only login" in message


def test_insert_on_one_table_is_refused_with_its_revoke(guard_db, reader):
    role, dsn = reader
    _admin(guard_db, f"grant insert on parcels to {role}")
    message = _refusal(dsn)
    assert f"production login {role} " in message and "INSERT on table public.parcels" in message
    assert f"revoke insert on table public.parcels from {role};" in message
    assert "default_transaction_read_only" not in message  # the reader's setting is there


def test_create_on_schema_public_is_refused(guard_db, reader):
    role, dsn = reader
    _admin(guard_db, f"grant create on schema public to {role}")
    message = _refusal(dsn)
    assert "CREATE on schema public" in message and f"revoke create on schema public from {role};" in message


def test_membership_of_a_writer_role_is_refused_naming_it(guard_db, reader, writer_role):
    role, dsn = reader
    _admin(guard_db, f"grant {writer_role} to {role}")
    message = _refusal(dsn)
    assert f"is a member of {writer_role}: INSERT on table public.parcels" in message
    assert f"revoke {writer_role} from {role};" in message


def test_membership_of_a_dangerous_predefined_role_is_refused(guard_db, reader):
    role, dsn = reader
    _admin(guard_db, f"grant pg_signal_backend to {role}")
    assert f"revoke pg_signal_backend from {role};" in _refusal(dsn)


def test_a_login_without_the_server_side_read_only_default_is_refused(guard_db, reader):
    """Our DSN sets the session's default itself: only the role's own setting counts."""
    role, dsn = reader
    _admin(guard_db, f"alter role {role} reset default_transaction_read_only")
    message = _refusal(ip.read_only_dsn(dsn))
    assert "server-side default_transaction_read_only not set" in message
    assert f"alter role {role} set default_transaction_read_only = on;" in message
    _admin(guard_db, f"alter role {role} in database zlv_guard_{os.getpid()} set default_transaction_read_only = off")
    _admin(guard_db, f"alter role {role} set default_transaction_read_only = on")
    assert "default_transaction_read_only = off" in _refusal(dsn)  # the database's setting wins, as in PostgreSQL


def test_the_reader_is_accepted_and_loads(guard_db, reader, tmp_path, ext, caplog):
    role, dsn = reader
    _admin(guard_db, "create table later (id int primary key)")  # created after the role: readable too
    with caplog.at_level(logging.INFO, logger="zlv_dwh.source_guard"):
        source_guard.check_read_only_login(dsn)
        record = _load(dsn, tmp_path / "wh.duckdb", ext)
    assert record.rows_loaded == 10
    assert caplog.text.count(f"production login {role} checked read-only") == 2  # once per check, once per load
    assert PASSWORD not in caplog.text
    with psycopg.connect(dsn) as con:
        assert con.execute("select count(*) from later").fetchone() == (0,)


def test_a_writable_login_fails_the_load_before_anything_is_written(guard_db, reader, tmp_path, ext):
    role, dsn = reader
    _admin(guard_db, f"grant delete on parcels to {role}")
    wh = tmp_path / "wh.duckdb"
    with pytest.raises(source_guard.WritableLoginError, match=f"revoke delete on table public.parcels from {role};"):
        _load(dsn, wh, ext, run_id="refused")
    with duckdb.connect(str(wh), read_only=True) as con:
        raw = "select count(*) from information_schema.tables where table_schema = 'raw_production'"
        assert con.execute(raw).fetchone() == (0,)
        status, message = con.execute("select status, error from ops.load_log where run_id = 'refused'").fetchone()
    assert status == "failed" and f"production login {role} " in message and PASSWORD not in message


def test_the_readme_gives_the_statements_the_guard_accepts():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for statement in source_guard.reader_setup_sql("zlv_dwh_reader", "zlv", "zlv_owner", "<a generated password>"):
        assert statement in readme, statement
