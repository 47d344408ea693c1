"""Real services for the tests: a PostgreSQL server (reused or started) and an S3 HTTP server.

Each test session gets its own database and bucket, so runs never see each other's data."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from zlv_dwh import dbt_project
from zlv_dwh.demo import generate, services
from zlv_dwh.ingest_files import S3Settings
from zlv_dwh.settings import DBT_MANIFEST

# Test secrets: distinctive so that a leak into a log or a file is easy to grep for.
TEST_HASH_KEY = b"zlv-test-pseudonymisation-key-5f1c"
TEST_SCALE = 300
TEST_SEED = 7


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="session")
def pg_admin(state_dir):
    service = services.start_postgres(state_dir, say=lambda m: None)
    yield service.url
    service.stop()


@pytest.fixture(scope="session")
def s3_service():
    service = services.start_s3(say=lambda m: None)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def demo() -> generate.Demo:
    return generate.build(seed=TEST_SEED, scale=TEST_SCALE)


@contextmanager
def scratch_database(admin_url: str, prefix: str):
    """A fresh database for this test run (dropped afterwards); yields its URL."""
    name = f"{prefix}_{os.getpid()}"
    yield services.recreate_database(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f'drop database if exists "{name}" with (force)')


def keyword_dsn(url: str) -> str:
    """A database URL as a libpq keyword DSN, as the ingestion receives it."""
    return " ".join(f"{k}={v}" for k, v in psycopg.conninfo.conninfo_to_dict(url).items())


@pytest.fixture(scope="session")
def ext(tmp_path_factory) -> Path:
    """One DuckDB extension folder for the session's ingestion tests."""
    return tmp_path_factory.mktemp("ext")


@pytest.fixture(scope="session")
def production_db(pg_admin, demo):
    """URL of a fresh database holding the demo production tables."""
    with scratch_database(pg_admin, "zlv_test") as url:
        generate.write_production(demo, url)
        yield url


@pytest.fixture(scope="session")
def production_dsn(production_db) -> str:
    return keyword_dsn(production_db)


@pytest.fixture(scope="session")
def s3(s3_service, demo) -> tuple[S3Settings, str]:
    """S3 settings and a bucket holding the demo LOCOMVAC / FF files."""
    access, secret = services.s3_credentials()
    bucket = f"zlv-test-{os.getpid()}"
    generate.upload_files(demo, s3_service.url, access, secret, bucket)
    return S3Settings(s3_service.url, access, secret), bucket


@pytest.fixture(scope="session")
def dbt_manifest(tmp_path_factory) -> dict:
    """The dbt manifest, built as `make manifest` does (the DAGs render from it)."""
    dbt_project.build(env={"ZLV_WAREHOUSE_PATH": str(tmp_path_factory.mktemp("parse") / "wh.duckdb")})
    return json.loads(DBT_MANIFEST.read_text())
