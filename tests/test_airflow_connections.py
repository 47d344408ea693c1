"""The Airflow connections are read through the providers' hooks (PostgresHook, S3Hook), so
Airflow's usual ways of configuring them work: extras, session tokens, a custom endpoint."""

import json

import psycopg

from zlv_dwh import airflow_tasks, ingest_files


def test_the_postgres_connection_gives_a_libpq_uri_with_its_options(monkeypatch):
    password = "p@ss'w\\rd wi=th spaces"
    connection = {
        "conn_type": "postgres",
        "host": "db.example",
        "port": 5433,
        "schema": "zlv",
        "login": "reader",
        "password": password,
        "extra": {"sslmode": "require", "connect_timeout": 7, "cursor": "dictcursor"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ZLV_TEST_PG", json.dumps(connection))
    parsed = psycopg.conninfo.conninfo_to_dict(airflow_tasks.postgres_dsn("zlv_test_pg"))
    assert parsed == {
        "host": "db.example",
        "port": "5433",
        "dbname": "zlv",
        "user": "reader",
        "password": password,
        "sslmode": "require",
        "connect_timeout": "7",
        "application_name": "zlv_dwh_ingest",  # the hook's own extras (cursor) are not libpq options
    }


def test_the_postgres_connection_reaches_the_real_server(monkeypatch, production_dsn):
    url = psycopg.conninfo.conninfo_to_dict(production_dsn)
    connection = {
        "conn_type": "postgres",
        "host": url["host"],
        "port": int(url.get("port", 5432)),
        "schema": url["dbname"],
        "login": url["user"],
        "password": url.get("password"),
    }
    monkeypatch.setenv("AIRFLOW_CONN_ZLV_TEST_PG", json.dumps(connection))
    with psycopg.connect(airflow_tasks.postgres_dsn("zlv_test_pg")) as con:
        assert con.execute("select current_setting('application_name')").fetchone()[0] == "zlv_dwh_ingest"


def test_the_s3_connection_carries_its_endpoint_region_and_session_token(monkeypatch, s3):
    settings, bucket = s3
    connection = {
        "conn_type": "aws",
        "login": settings.access_key_id,
        "password": settings.secret_access_key,
        "extra": {"endpoint_url": settings.endpoint_url, "region_name": "eu-west-3", "aws_session_token": "TEMP-TOKEN"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ZLV_TEST_S3", json.dumps(connection))
    read = airflow_tasks.s3_settings("zlv_test_s3")
    assert (read.endpoint_url, read.region, read.session_token) == (settings.endpoint_url, "eu-west-3", "TEMP-TOKEN")
    assert "TEMP-TOKEN" not in repr(read) and settings.secret_access_key not in repr(read)
    names = [b["Name"] for b in ingest_files.s3_client(read).list_buckets()["Buckets"]]
    assert bucket in names  # the client the hook's settings build reaches the real endpoint
