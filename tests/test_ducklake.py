"""The DuckLake backend (ZLV_WAREHOUSE_BACKEND=ducklake) on the real local PostgreSQL (a scratch
database as catalog) and the moto S3 server: the connect helper, and the whole pipeline once on
each backend with the same published marts."""

import threading
from dataclasses import replace

import boto3
import duckdb
import psycopg
import pytest
import yaml

from conftest import TEST_HASH_KEY, scratch_database
from zlv_dwh import dbt_rendering, ingest_postgres, settings
from zlv_dwh.demo import generate, run, services
from zlv_dwh.settings import DBT_PROJECT_DIR, DUCKLAKE_ALIAS
from zlv_dwh.warehouse import WarehouseUnavailable, connect, retry_on_conflict


@pytest.fixture(scope="module")
def lake(pg_admin, s3_service, tmp_path_factory):
    """The environment of a DuckLake warehouse on a fresh catalog database and bucket."""
    access, secret = services.s3_credentials()
    bucket = "zlv-lake-connect"
    boto3.client(
        "s3", endpoint_url=s3_service.url, aws_access_key_id=access, aws_secret_access_key=secret, region_name="us-east-1"
    ).create_bucket(Bucket=bucket)
    data_dir = tmp_path_factory.mktemp("lake_data")
    with scratch_database(pg_admin, "zlv_lake_catalog") as catalog, pytest.MonkeyPatch.context() as env:
        env.setenv("ZLV_WAREHOUSE_BACKEND", "ducklake")
        env.setenv("ZLV_DATA_DIR", str(data_dir))
        env.setenv("ZLV_DUCKLAKE_CATALOG", catalog)
        env.setenv("ZLV_DUCKLAKE_DATA_PATH", f"s3://{bucket}/warehouse/")
        env.setenv("ZLV_DUCKLAKE_S3_ENDPOINT_URL", s3_service.url)
        env.setenv("ZLV_DUCKLAKE_S3_ACCESS_KEY_ID", access)
        env.setenv("ZLV_DUCKLAKE_S3_SECRET_ACCESS_KEY", secret)
        yield {"warehouse": data_dir / "warehouse.duckdb", "catalog": catalog, "bucket": bucket, "s3": s3_service.url}


def _count(con, table: str) -> int:
    return con.execute(f"select count(*) from {table}").fetchone()[0]


def test_two_writers_commit_at_once_and_a_reader_sees_only_committed_rows(lake):
    with connect(lake["warehouse"]) as setup:
        assert setup.execute("select current_database()").fetchone() == (DUCKLAKE_ALIAS,)
        setup.execute("create schema if not exists ops")
        setup.execute("create or replace table ops.writer_a (n integer)")
        setup.execute("create or replace table ops.writer_b (n integer)")
    # Both writers open at the same time: no file lock on this backend.
    with connect(lake["warehouse"]) as a, connect(lake["warehouse"]) as b, connect(lake["warehouse"], read_only=True) as reader:
        a.execute("begin transaction")
        b.execute("begin transaction")
        a.execute("insert into ops.writer_a select range from range(3)")
        b.execute("insert into ops.writer_b select range from range(5000)")
        assert (_count(reader, "ops.writer_a"), _count(reader, "ops.writer_b")) == (0, 0)
        a.execute("commit")
        assert (_count(reader, "ops.writer_a"), _count(reader, "ops.writer_b")) == (3, 0)
        b.execute("commit")
        assert (_count(reader, "ops.writer_a"), _count(reader, "ops.writer_b")) == (3, 5000)
        with pytest.raises(duckdb.Error):  # the reader attached the lake read-only
            reader.execute("insert into ops.writer_a values (99)")
    # Rows are Parquet files in the bucket (a few rows are inlined in the catalog), the catalog is in PostgreSQL.
    s3 = boto3.client(
        "s3", endpoint_url=lake["s3"], aws_access_key_id=services.s3_credentials()[0],
        aws_secret_access_key=services.s3_credentials()[1], region_name="us-east-1",
    )  # fmt: skip
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=lake["bucket"], Prefix="warehouse/").get("Contents", [])]
    assert any(k.endswith(".parquet") for k in keys), keys
    with psycopg.connect(lake["catalog"]) as pg:
        assert pg.execute("select count(*) from ducklake_table").fetchone()[0] >= 2
    assert not lake["warehouse"].exists()  # no DuckDB warehouse file on this backend


def test_two_writers_changing_the_same_rows_fail_the_later_commit(lake):
    with connect(lake["warehouse"]) as setup:
        setup.execute("create schema if not exists ops")
        setup.execute("create or replace table ops.contended as select 1 as n")
    with connect(lake["warehouse"]) as a, connect(lake["warehouse"]) as b:
        a.execute("begin transaction")
        b.execute("begin transaction")
        a.execute("delete from ops.contended where n = 1")
        b.execute("delete from ops.contended where n = 1")
        a.execute("commit")
        with pytest.raises(duckdb.TransactionException, match="conflict"):
            b.execute("commit")


def test_concurrent_loads_of_different_tables_all_land(lake, production_dsn):
    """Several workers at once: the loads meet on the shared ops tables, DuckLake refuses the later
    commits, and retry_on_conflict runs those again (what the Airflow tasks do)."""
    config = ingest_postgres.load_config()
    names = ["localities", "establishments", "users", "campaigns"]
    results: dict = {}

    def load(name):
        try:
            results[name] = retry_on_conflict(
                lambda: ingest_postgres.ingest_table(
                    config.tables[name], pg_dsn=production_dsn, warehouse=lake["warehouse"], run_id="concurrent",
                    key=TEST_HASH_KEY, source_schema=config.schema, target_schema=config.target_schema,
                )
            ).rows_loaded  # fmt: skip
        except Exception as exc:  # reported by the assertion below
            results[name] = exc

    threads = [threading.Thread(target=load, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(rows, int) and rows > 0 for rows in results.values()) and len(results) == len(names), results
    with connect(lake["warehouse"], read_only=True) as con:
        for name in names:
            assert _count(con, f"raw_production.{name}") == results[name]
        succeeded = con.execute(
            "select table_name from ops.load_log where run_id = 'concurrent' and status = 'success' order by 1"
        ).fetchall()
        assert [r[0] for r in succeeded] == sorted(names)  # one success each, whatever the retries


def test_an_unreachable_catalog_fails_clearly_without_its_password(lake, monkeypatch):
    monkeypatch.setenv("ZLV_DUCKLAKE_CATALOG", "host=127.0.0.1 port=1 dbname=nowhere user=zlv password=Zlv-Catalog-Secret-91")
    with pytest.raises(WarehouseUnavailable, match="cannot attach the DuckLake catalog") as failure:
        with connect(lake["warehouse"]):
            pass
    assert "Zlv-Catalog-Secret-91" not in str(failure.value)


def test_missing_lake_settings_are_named(monkeypatch):
    monkeypatch.setenv("ZLV_WAREHOUSE_BACKEND", "ducklake")
    monkeypatch.delenv("ZLV_DUCKLAKE_CATALOG", raising=False)
    monkeypatch.setenv("ZLV_DUCKLAKE_DATA_PATH", "s3://bucket/prefix/")
    monkeypatch.delenv("ZLV_DUCKLAKE_S3_SECRET_ACCESS_KEY", raising=False)
    with pytest.raises(ValueError, match="ZLV_DUCKLAKE_CATALOG.*ZLV_DUCKLAKE_S3_SECRET_ACCESS_KEY"):
        settings.LakeSettings.from_env()
    monkeypatch.setenv("ZLV_WAREHOUSE_BACKEND", "sqlite")
    with pytest.raises(ValueError, match="duckdb, ducklake"):
        settings.warehouse_backend()


def test_dbt_has_one_target_per_backend_and_the_lake_under_the_same_name(monkeypatch):
    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["zlv"]
    assert set(profile["outputs"]) == set(settings.BACKENDS)
    lake_target = profile["outputs"]["ducklake"]
    assert lake_target["database"] == DUCKLAKE_ALIAS
    assert [a["alias"] for a in lake_target["attach"]] == [DUCKLAKE_ALIAS]
    for backend in settings.BACKENDS:  # what Cosmos renders the transform DAG with
        monkeypatch.setenv("ZLV_WAREHOUSE_BACKEND", backend)
        assert dbt_rendering.profile_config().target_name == backend


@pytest.fixture(scope="module")
def both_runs(pipeline_stack, pg_admin, demo):
    """The pipeline (without Airflow) once on the DuckDB file and once on DuckLake, same sources."""
    runs = {}
    with scratch_database(pg_admin, "zlv_lake_pipeline") as catalog:
        for backend, lake_catalog in (("duckdb", None), ("ducklake", catalog)):
            stack = replace(pipeline_stack(f"backend_{backend}", bucket=f"zlv-backend-{backend}"), lake_catalog=lake_catalog)
            generate.upload_files(demo, stack.s3_url, stack.s3_access_key, stack.s3_secret_key, stack.bucket)
            runs[backend] = (stack, run.run_direct(stack))
        yield runs


@pytest.mark.slow
def test_the_pipeline_publishes_the_same_marts_on_both_backends(both_runs):
    (file_stack, on_file), (lake_stack, on_lake) = both_runs["duckdb"], both_runs["ducklake"]
    print(f"\npipeline without Airflow: duckdb {on_file['seconds']:.1f}s, ducklake {on_lake['seconds']:.1f}s")
    print(f"  steps duckdb {on_file['steps']}\n  steps ducklake {on_lake['steps']}")
    assert (on_file["backend"], on_lake["backend"]) == ("duckdb", "ducklake")
    assert on_lake["summary"]["audit"]["verdict"] == "pass"
    assert on_lake["summary"]["marts"] == on_file["summary"]["marts"]
    assert all(rows > 0 for rows in on_lake["summary"]["marts"].values())
    assert [r[:5] for r in on_lake["summary"]["loads"]] == [r[:5] for r in on_file["summary"]["loads"]]
    assert file_stack.paths.warehouse.exists() and not lake_stack.paths.warehouse.exists()
    # The published files (what Metabase reads) hold the same rows, value for value.
    with duckdb.connect(str(file_stack.paths.published_marts), read_only=True) as con:
        con.execute(f"attach '{lake_stack.paths.published_marts}' as lake (read_only)")
        for mart in on_file["summary"]["marts"]:
            differing = con.execute(
                f'select count(*) from ((from main."{mart}" except all from lake.main."{mart}") '
                f'union all (from lake.main."{mart}" except all from main."{mart}"))'
            ).fetchone()[0]
            assert differing == 0, mart
        public = "select count(*) from duckdb_views() where schema_name = 'public' and database_name = ?"
        assert con.execute(public, ["lake"]).fetchone() == con.execute(public, [file_stack.paths.published_marts.stem]).fetchone()
