"""LOCOMVAC / FF ingestion against a real S3 HTTP server (moto) and real DuckDB files."""

import gzip

import duckdb
import pytest

from conftest import TEST_HASH_KEY
from zlv_dwh import ingest_files as fi
from zlv_dwh import pii
from zlv_dwh.demo import generate

CONFIG = fi.load_config()


def _own_bucket(s3, demo, suffix):
    """A copy of the demo files in a bucket this test may damage."""
    settings, source_bucket = s3
    bucket = source_bucket + suffix
    generate.upload_files(demo, settings.endpoint_url, settings.access_key_id, settings.secret_access_key, bucket)
    return settings, bucket, fi.s3_client(settings)


def _ingest(family, s3, bucket, wh, ext, run_id="run-1"):
    return fi.ingest_family(
        CONFIG.families[family], s3=s3, bucket=bucket, warehouse=wh, run_id=run_id, hash_key=TEST_HASH_KEY, extension_dir=ext
    )


def test_both_families_load_every_millesime(s3, demo, tmp_path, ext):
    settings, bucket = s3
    wh = tmp_path / "wh.duckdb"
    _ingest("locomvac", settings, bucket, wh, ext)
    _ingest("ff", settings, bucket, wh, ext)
    con = duckdb.connect(str(wh), read_only=True)
    expected = generate.file_row_counts(demo)
    assert con.execute("select count(*) from raw_locomvac.lovac").fetchone()[0] == expected["lovac"]
    assert con.execute("select count(*) from raw_ff.ff_housing").fetchone()[0] == expected["ff_housing"]
    assert con.execute("select count(*) from raw_ff.ff_owners").fetchone()[0] == expected["ff_owners"]
    assert sorted(r[0] for r in con.execute("select distinct millesime from raw_locomvac.lovac").fetchall()) == list(
        generate.MILLESIMES
    )


def test_owner_columns_are_dropped_or_hashed(s3, demo, tmp_path, ext):
    settings, bucket = s3
    wh = tmp_path / "wh.duckdb"
    _ingest("locomvac", settings, bucket, wh, ext)
    con = duckdb.connect(str(wh), read_only=True)
    columns = {r[0] for r in con.execute("describe raw_locomvac.lovac").fetchall()}
    assert not columns & {"ff_ddenom_1", "ff_jdatnss_1", "proprietaire", "adresse1"}
    owner = demo.tables["owners"][0]
    hashed = pii.hmac_sha256_hex(TEST_HASH_KEY, owner["idpersonne"])
    clear = con.execute("select count(*) from raw_locomvac.lovac where ff_idpersonne_1 = ?", [owner["idpersonne"]]).fetchone()[0]
    assert clear == 0
    assert con.execute("select count(*) from raw_locomvac.lovac where length(ff_idpersonne_1) <> 64").fetchone()[0] == 0
    assert isinstance(hashed, str)


def test_rerun_replaces_millesimes_without_duplicating(s3, tmp_path, ext):
    settings, bucket = s3
    wh = tmp_path / "wh.duckdb"
    _ingest("ff", settings, bucket, wh, ext, "a")
    before = duckdb.connect(str(wh), read_only=True).execute("select count(*) from raw_ff.ff_housing").fetchone()[0]
    _ingest("ff", settings, bucket, wh, ext, "b")
    after = duckdb.connect(str(wh), read_only=True).execute("select count(*) from raw_ff.ff_housing").fetchone()[0]
    assert before == after > 0


def test_a_file_breaking_the_contract_is_refused_and_others_still_load(s3, demo, tmp_path, ext):
    settings, bucket, client = _own_bucket(s3, demo, "-bad")
    wh = tmp_path / "wh.duckdb"
    _ingest("locomvac", settings, bucket, wh, ext, "good")
    good_2025 = (
        duckdb.connect(str(wh), read_only=True)
        .execute("select count(*) from raw_locomvac.lovac where millesime = 2025")
        .fetchone()[0]
    )
    # 2025 loses a column: refused, naming the file and the column; 2024 still loads.
    text = demo.files["lake/cerema/lovac/2025/raw.csv"].decode("latin-1").replace(";vlcad;", ";vlcad_euros;", 1)
    client.put_object(Bucket=bucket, Key="lake/cerema/lovac/2025/raw.csv", Body=text.encode("latin-1"))
    with pytest.raises(
        fi.FileIngestError, match=r"lovac/2025/raw.csv.*missing column\(s\) \['vlcad'\], unexpected column\(s\) \['vlcad_euros'\]"
    ):
        _ingest("locomvac", settings, bucket, wh, ext, "bad")
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select count(*) from raw_locomvac.lovac where millesime = 2025").fetchone()[0] == good_2025
    statuses = dict(con.execute("select object_key, status from ops.load_log where run_id = 'bad'").fetchall())
    assert statuses == {"lake/cerema/lovac/2024/raw.csv": "success", "lake/cerema/lovac/2025/raw.csv": "failed"}


def test_a_bad_value_names_the_file_and_keeps_the_previous_rows(s3, demo, tmp_path, ext):
    settings, bucket, client = _own_bucket(s3, demo, "-badvalue")
    wh = tmp_path / "wh.duckdb"
    _ingest("ff", settings, bucket, wh, ext, "good")
    before = duckdb.connect(str(wh), read_only=True).execute("select count(*) from raw_ff.ff_housing").fetchone()[0]
    lines = gzip.decompress(demo.files["lake/cerema/ff/2024/raw.csv.gz"]).decode().splitlines()
    fields = lines[5].split(",")
    fields[6] = "not-a-year"  # jannath is INTEGER in the contract
    lines[5] = ",".join(fields)
    client.put_object(Bucket=bucket, Key="lake/cerema/ff/2024/raw.csv.gz", Body=gzip.compress("\n".join(lines).encode()))
    with pytest.raises(fi.FileIngestError, match=r"ff/2024/raw.csv.gz"):
        _ingest("ff", settings, bucket, wh, ext, "bad")
    assert duckdb.connect(str(wh), read_only=True).execute("select count(*) from raw_ff.ff_housing").fetchone()[0] == before


def test_keys_never_appear_in_settings_repr():
    settings = fi.S3Settings("http://x", "AKIA-TEST-ACCESS", "TEST-SECRET-VALUE")
    assert "TEST-SECRET-VALUE" not in repr(settings) and "AKIA-TEST-ACCESS" not in repr(settings)
