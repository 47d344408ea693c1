"""Production ingestion against a real PostgreSQL server and real DuckDB files."""

import duckdb
import psycopg
import pytest

from conftest import TEST_HASH_KEY
from zlv_dwh import ingest_postgres as ip
from zlv_dwh import pii

CONFIG = ip.load_config()


def _ingest(table, dsn, wh, ext, run_id="run-1", spec=None) -> int:
    """Load one table; the rows the raw table then holds."""
    record = ip.ingest_table(
        spec or CONFIG.tables[table], pg_dsn=dsn, warehouse=wh, run_id=run_id, key=TEST_HASH_KEY, extension_dir=ext
    )
    return record.rows_loaded


@pytest.fixture
def wh(tmp_path):
    return tmp_path / "warehouse.duckdb"


def test_a_write_through_the_loaders_session_is_refused(production_dsn):
    with psycopg.connect(ip.read_only_dsn(production_dsn)) as con:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            con.execute("insert into localities (geo_code, name) values ('99999', 'Nowhere')")


def test_a_write_through_the_duckdb_attachment_is_refused(production_dsn, wh, ext):
    from zlv_dwh.warehouse import connect, quote_literal

    with connect(wh, extensions=["postgres"], extension_dir=ext) as con:
        con.execute(f"attach {quote_literal(ip.read_only_dsn(production_dsn))} as pg (type postgres, read_only)")
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("select * from postgres_execute('pg', 'delete from localities')")


def test_full_load_copies_every_row_drops_and_pseudonymises(production_dsn, demo, wh, ext):
    rows = _ingest("owners", production_dsn, wh, ext)
    assert rows == len(demo.tables["owners"])
    con = duckdb.connect(str(wh), read_only=True)
    columns = [r[0] for r in con.execute("describe raw_production.owners").fetchall()]
    for dropped in CONFIG.tables["owners"].drop:
        assert dropped not in columns
    assert "full_name_fts" not in columns and "administrator" not in columns  # names, in a tsvector / free text
    assert {"administrator_length", "administrator_has_phone"} <= set(columns)
    first = demo.tables["owners"][0]
    full_name = con.execute("select full_name from raw_production.owners where id = ?", [first["id"]]).fetchone()[0]
    assert full_name == pii.hmac_sha256_hex(TEST_HASH_KEY, first["full_name"])
    assert con.execute("select count(*) from raw_production.owners where full_name like '% %'").fetchone()[0] == 0
    log = con.execute("select table_name, rows_loaded, status from ops.load_log").fetchall()
    assert log == [("owners", rows, "success")]


def test_event_payloads_keep_only_the_declared_keys_of_their_type(production_dsn, demo, wh, ext):
    assert _ingest("events", production_dsn, wh, ext) == len(demo.tables["events"])  # every type is copied
    con = duckdb.connect(str(wh), read_only=True)
    keys = dict(
        con.execute(
            "select type, list(distinct k order by k) from (select type, unnest(json_keys(next_new)) as k "
            "from raw_production.events where next_new is not null) group by type"
        ).fetchall()
    )
    assert keys["housing:status-updated"] == ["status", "subStatus"]  # an agent's pasted comment is gone
    assert set(keys) <= {"housing:status-updated", "housing:occupancy-updated", "housing:created"}
    planted = sum(1 for e in demo.tables["events"] if e["next_new"] is not None and "comment" in e["next_new"].obj)
    assert planted > 0
    quoting = ("owner:updated", "housing:owner-attached", "housing:document-attached", "housing:campaign-attached")
    assert con.execute(
        f"select count(*) from raw_production.events where type in {quoting} and (next_new is not null or next_old is not null)"
    ).fetchone() == (0,)


def test_reloading_is_idempotent(production_dsn, wh, ext):
    first = _ingest("fast_housing", production_dsn, wh, ext, run_id="a")
    second = _ingest("fast_housing", production_dsn, wh, ext, run_id="b")
    con = duckdb.connect(str(wh), read_only=True)
    assert first == second == con.execute("select count(*) from raw_production.fast_housing").fetchone()[0]


def test_duplicate_keys_fail_and_keep_the_previous_table(production_db, production_dsn, wh, ext):
    with psycopg.connect(production_db, autocommit=True) as con:
        con.execute("drop table if exists dup_probe")
        con.execute("create table dup_probe (id int, label text)")
        con.execute("insert into dup_probe values (1, 'a'), (2, 'b')")
    spec = ip.TableSpec(name="dup_probe", primary_key=("id",), keep_unclassified=True)
    assert _ingest(None, production_dsn, wh, ext, spec=spec) == 2
    with psycopg.connect(production_db, autocommit=True) as con:
        con.execute("insert into dup_probe values (2, 'again'), (3, 'c')")
    with pytest.raises(ip.IngestError, match=r"dup_probe: 1 duplicate value\(s\) of primary key \(id\)"):
        _ingest(None, production_dsn, wh, ext, run_id="run-2", spec=spec)
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select count(*) from raw_production.dup_probe").fetchone()[0] == 2
    assert con.execute("select status from ops.load_log where run_id = 'run-2'").fetchone() == ("failed",)


def test_missing_table_and_missing_column_are_named(production_dsn, wh, ext):
    with pytest.raises(ip.IngestError, match="public.no_such_table not found"):
        _ingest(None, production_dsn, wh, ext, spec=ip.TableSpec(name="no_such_table", primary_key=("id",)))
    with pytest.raises(ip.IngestError, match=r"public.owners: drop column\(s\) \['nickname'\] not in the source"):
        _ingest(None, production_dsn, wh, ext, spec=ip.TableSpec(name="owners", primary_key=("id",), drop=("nickname",)))


def test_unreachable_source_names_the_table(wh, ext):
    with pytest.raises(ip.IngestError, match="production table public.owners"):
        _ingest("owners", "host=127.0.0.1 port=1 user=nobody dbname=none connect_timeout=2", wh, ext)


def test_every_declared_table_loads(production_dsn, demo, wh, ext):
    for name in CONFIG.tables:
        rows = _ingest(name, production_dsn, wh, ext)
        assert rows == len(demo.tables[name]), name


def test_a_connection_error_never_reveals_the_password(wh, ext):
    dsn = "host=127.0.0.1 port=5432 user=no_such_role password='S3cr3t pw' dbname=none connect_timeout=2"
    with pytest.raises(ip.IngestError) as failure:
        _ingest("owners", dsn, wh, ext)
    assert "S3cr3t" not in str(failure.value) and failure.value.__cause__ is None
    assert 'role "no_such_role" does not exist' in str(failure.value)  # the login check's connection, first
    logged = duckdb.connect(str(wh), read_only=True).execute("select error from ops.load_log").fetchone()[0]
    assert "S3cr3t" not in logged and "no_such_role" in logged
    # DuckDB's attach echoes the connection string in its error: the load reports it redacted.
    from zlv_dwh.warehouse import connect, quote_literal

    with connect(wh.with_name("attach.duckdb"), extensions=["postgres"], extension_dir=ext) as con:
        with pytest.raises(duckdb.Error) as echoed:
            con.execute(f"attach {quote_literal(ip.read_only_dsn(dsn))} as pg (type postgres, read_only)")
    assert "S3cr3t" not in ip.readable(str(echoed.value)) and "password=***" in ip.readable(str(echoed.value))


def test_owners_and_users_names_leave_only_keyed_token_hashes_for_the_audit(production_dsn, demo, wh, ext):
    """users.first_name / last_name are dropped and owners.full_name pseudonymised, yet their
    keyed token hashes let the audit find a name in another order or case in a mart."""
    _ingest("users", production_dsn, wh, ext)
    _ingest("owners", production_dsn, wh, ext)
    user = next(u for u in demo.tables["users"] if u["first_name"] and u["last_name"])
    owner = next(o for o in demo.tables["owners"] if len(o["full_name"].split()) >= 2)
    with duckdb.connect(str(wh)) as con:
        sources = dict(con.execute("select source, count(*) from ops.known_people_hashes group by 1").fetchall())
        assert set(sources) == {"users.first_name+last_name", "owners.full_name"} and min(sources.values()) > 10
        stored = " ".join(h for (h,) in con.execute("select h from ops.known_people_hashes").fetchall())
        assert user["last_name"].lower() not in stored.lower() and all(len(h) == 64 for h in stored.split())
        pii.install_key(con, TEST_HASH_KEY)
        texts = [
            f"Dossier de {user['last_name'].upper()} {user['first_name']}",
            " ".join(reversed(owner["full_name"].split())).lower(),
        ]
        con.execute("create temp table scanned as select unnest(?) as v", [texts])
        assert con.execute(pii.known_name_hits_sql("scanned", "v")).fetchone()[0] == 2
    _ingest("users", production_dsn, wh, ext, run_id="run-2")  # an incremental load adds no duplicate
    with duckdb.connect(str(wh)) as con:
        again = dict(con.execute("select source, count(*) from ops.known_people_hashes group by 1").fetchall())
    assert again == sources
