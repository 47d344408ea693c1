"""Real services for the tests: a PostgreSQL server (reused or started) and an S3 HTTP server.

Each test session gets its own database and bucket, so runs never see each other's data."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from zlv_dwh.demo import generate, services
from zlv_dwh.ingest_files import S3Settings

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


@pytest.fixture(scope="session")
def production_db(pg_admin, demo):
    """URL of a fresh database holding the demo production tables."""
    name = f"zlv_test_{os.getpid()}"
    url = services.recreate_database(pg_admin, name)
    generate.write_production(demo, url)
    yield url
    with psycopg.connect(pg_admin, autocommit=True) as con:
        con.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def production_dsn(production_db) -> str:
    """The same database as a libpq keyword DSN, as the ingestion receives it."""
    info = psycopg.conninfo.conninfo_to_dict(production_db)
    return " ".join(f"{k}={v}" for k, v in info.items())


@pytest.fixture(scope="session")
def s3(s3_service, demo) -> tuple[S3Settings, str]:
    """S3 settings and a bucket holding the demo LOCOMVAC / FF files."""
    access, secret = services.s3_credentials()
    bucket = f"zlv-test-{os.getpid()}"
    generate.upload_files(demo, s3_service.url, access, secret, bucket)
    return S3Settings(s3_service.url, access, secret), bucket
