"""`python -m zlv_dwh.demo.generate`: the seeding command of the compose `demo` profile, against a
real PostgreSQL database and the real S3 server (its main(), run in process; the compose test
checks the service runs that module)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import psycopg
import pytest

from conftest import scratch_database
from zlv_dwh.demo import generate, services
from zlv_dwh.ingest_files import S3Settings, s3_client


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def seed(monkeypatch, capsys):
    """Run the seeding command's main() with this environment (in process: no interpreter start)."""

    def run(env: dict, *args: str) -> Outcome:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        code = generate.main(list(args))
        out = capsys.readouterr()
        return Outcome(code, out.out, out.err)

    return run


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as con:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in generate.PRODUCTION_TABLES}


def test_seeding_writes_once_keeps_then_replaces(pg_admin, s3_service, seed):
    access, secret = services.s3_credentials()
    bucket = f"zlv-seed-{os.getpid()}"
    with scratch_database(pg_admin, "zlv_seed") as url:
        env = {
            "ZLV_DEMO_PRODUCTION_URL": url,
            "ZLV_DEMO_S3_URL": s3_service.url,
            "ZLV_DEMO_S3_ACCESS_KEY": access,
            "ZLV_DEMO_S3_SECRET_KEY": secret,
        }

        first = seed(env, "--scale", "60", "--bucket", bucket)
        assert first.returncode == 0, first.stderr
        expected = generate.production_row_counts(generate.build(seed=42, scale=60))
        assert _counts(url) == {t: expected[t] for t in generate.PRODUCTION_TABLES}
        client = s3_client(S3Settings(s3_service.url, access, secret))
        keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
        assert "lake/cerema/lovac/2025/raw.csv" in keys and "lake/cerema/ff/2024/raw.csv.gz" in keys

        # A restart of the stack runs the seeder again: the data already there is kept as is.
        with psycopg.connect(url) as con:
            con.execute("delete from housing_events")
        again = seed(env, "--scale", "60", "--bucket", bucket)
        assert again.returncode == 0, again.stderr
        assert "kept" in again.stdout
        assert _counts(url)["housing_events"] == 0

        replaced = seed(env, "--scale", "90", "--bucket", bucket, "--replace", "--skip-files")
        assert replaced.returncode == 0, replaced.stderr
        bigger = generate.production_row_counts(generate.build(seed=42, scale=90))
        assert _counts(url) == {t: bigger[t] for t in generate.PRODUCTION_TABLES}


def test_seeding_without_a_database_url_says_what_to_set(seed):
    result = seed({"ZLV_DEMO_PRODUCTION_URL": "", "ZLV_DEMO_S3_URL": ""})
    assert result.returncode == 2
    assert "ZLV_DEMO_PRODUCTION_URL" in result.stderr
