"""LOCOMVAC / FF ingestion against a real S3 HTTP server (moto) and real DuckDB files."""

import dataclasses
import gzip
import itertools

import duckdb
import pytest

from conftest import TEST_HASH_KEY
from zlv_dwh import ingest_files as fi
from zlv_dwh import pii
from zlv_dwh.demo import generate

CONFIG = fi.load_config()
LOVAC_2025 = "lake/cerema/lovac/2025/raw.csv"
D = "|"  # LOVAC 2025's delimiter (Cerema's lovac_fil.csv), as the demo writes it
FF_2024 = "lake/cerema/ff/2024/raw.csv.gz"
OWNERS_2024 = "lake/cerema/ff/2024/owners.csv.gz"
_buckets = itertools.count()


@pytest.fixture
def bucket(s3, demo):
    """A copy of the demo files in a bucket this test may change."""
    settings, source_bucket = s3
    name = f"{source_bucket}-{next(_buckets)}"
    generate.upload_files(demo, settings.endpoint_url, settings.access_key_id, settings.secret_access_key, name)
    return name


@pytest.fixture
def client(s3):
    return fi.s3_client(s3[0])


def _ingest(family, s3, bucket, wh, ext, run_id="run-1"):
    spec = family if isinstance(family, fi.FamilySpec) else CONFIG.families[family]
    return fi.ingest_family(spec, s3=s3, bucket=bucket, warehouse=wh, run_id=run_id, hash_key=TEST_HASH_KEY, extension_dir=ext)


def _q(wh, sql, params=None):
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def _statuses(report):
    return {o.key: o.status for o in report.outcomes}


def _gz_lines(demo, key):
    return gzip.decompress(demo.files[key]).decode().splitlines()


def _put_lines(client, bucket, key, lines, encoding="utf-8"):
    client.put_object(Bucket=bucket, Key=key, Body=gzip.compress(("\n".join(lines) + "\n").encode(encoding)))


def test_both_families_load_every_millesime(s3, demo, tmp_path, ext):
    settings, bucket = s3
    wh = tmp_path / "wh.duckdb"
    _ingest("locomvac", settings, bucket, wh, ext)
    report = _ingest("ff", settings, bucket, wh, ext)
    expected = generate.file_row_counts(demo)
    for table, dataset in (
        ("raw_locomvac.lovac", "lovac"),
        ("raw_ff.ff_housing", "ff_housing"),
        ("raw_ff.ff_owners", "ff_owners"),
    ):
        assert _q(wh, f"select count(*) from {table}") == [(expected[dataset],)]
    assert [r[0] for r in _q(wh, "select distinct millesime from raw_locomvac.lovac order by 1")] == list(generate.MILLESIMES)
    assert set(_statuses(report).values()) == {"loaded"} and "rows loaded" in report.summary()
    manifest = _q(wh, "select object_key, status, rows_loaded, size_bytes > 0, length(etag) from ops.file_manifest order by 1")
    assert [m[1] for m in manifest] == ["loaded"] * len(demo.files) and all(m[3] and m[4] == 32 for m in manifest)


def test_pseudonymised_and_dropped_columns_never_appear_in_clear(s3, demo, tmp_path, ext):
    settings, bucket = s3
    wh = tmp_path / "wh.duckdb"
    _ingest("locomvac", settings, bucket, wh, ext)
    _ingest("ff", settings, bucket, wh, ext)
    columns = {r[0] for r in _q(wh, "select column_name from information_schema.columns where table_schema like 'raw_%'")}
    assert not columns & {"ff_ddenom_1", "ff_jdatnss_1", "proprietaire", "adresse1", "ddenom", "dlign3", "jdatnss"}
    clear_ids = sorted({o["idpersonne"] for o in demo.tables["owners"]})
    varchar_columns = _q(
        wh,
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema in ('raw_locomvac', 'raw_ff') and data_type = 'VARCHAR'",
    )
    for schema, table, column in varchar_columns:  # no owner id in clear anywhere
        hits = _q(wh, f'select count(*) from {schema}.{table} where "{column}" in (select unnest(?::varchar[]))', [clear_ids])
        assert hits == [(0,)], f"{schema}.{table}.{column}"
    hashed = {pii.hmac_sha256_hex(TEST_HASH_KEY, i) for i in clear_ids}
    stored = {r[0] for r in _q(wh, "select idpersonne from raw_ff.ff_owners")}
    assert stored and stored <= hashed


def test_a_rerun_loads_nothing_and_a_replaced_object_reloads_only_its_rows(s3, bucket, client, demo, tmp_path, ext):
    settings = s3[0]
    wh = tmp_path / "wh.duckdb"
    _ingest("ff", settings, bucket, wh, ext, "first")
    stamps = dict(_q(wh, "select _source_key, max(_loaded_at) from raw_ff.ff_housing group by 1"))
    again = _ingest("ff", settings, bucket, wh, ext, "again")
    assert set(_statuses(again).values()) == {"unchanged"}
    assert _q(wh, "select count(*) from ops.load_log where run_id = 'again'") == [(0,)]

    lines = _gz_lines(demo, FF_2024)
    _put_lines(client, bucket, FF_2024, lines[:-10])  # a new delivery of 2024: ten dwellings fewer
    replaced = _ingest("ff", settings, bucket, wh, ext, "replaced")
    assert {k: s for k, s in _statuses(replaced).items() if s != "unchanged"} == {FF_2024: "loaded"}
    counts = dict(_q(wh, "select _source_key, count(*) from raw_ff.ff_housing group by 1"))
    assert counts[FF_2024] == len(lines) - 11  # header excluded
    after = dict(_q(wh, "select _source_key, max(_loaded_at) from raw_ff.ff_housing group by 1"))
    assert after[FF_2024] > stamps[FF_2024] and all(after[k] == v for k, v in stamps.items() if k != FF_2024)


def test_a_new_millesime_loads_alone_and_a_vanished_object_is_reported_with_its_rows_kept(
    s3, bucket, client, demo, tmp_path, ext
):
    settings = s3[0]
    wh = tmp_path / "wh.duckdb"
    _ingest("locomvac", settings, bucket, wh, ext, "first")
    client.put_object(Bucket=bucket, Key="lake/cerema/lovac/2026/raw.csv", Body=demo.files[LOVAC_2025])
    client.delete_object(Bucket=bucket, Key="lake/cerema/lovac/2024/raw.csv")
    report = _ingest("locomvac", settings, bucket, wh, ext, "second")
    assert _statuses(report) == {LOVAC_2025: "unchanged", "lake/cerema/lovac/2026/raw.csv": "loaded"}
    assert report.vanished == ["lake/cerema/lovac/2024/raw.csv"] and "no longer in storage" in report.summary()
    assert [r[0] for r in _q(wh, "select distinct millesime from raw_locomvac.lovac order by 1")] == [2024, 2025, 2026]
    assert _q(wh, "select status from ops.file_manifest where object_key like '%2024%'") == [("missing",)]


def _quarantined(s3, bucket, wh, ext, family, key, match):
    """The family run fails naming the file; the file is quarantined, the rest of the family loads."""
    with pytest.raises(fi.ContractError, match=match):
        _ingest(family, s3[0], bucket, wh, ext, "bad")
    assert _q(wh, "select status from ops.file_manifest where object_key = ?", [key]) == [("quarantined",)]
    assert _q(wh, "select status from ops.load_log where run_id = 'bad' and object_key = ?", [key]) == [("quarantined",)]
    others = _q(wh, "select distinct status from ops.file_manifest where object_key <> ?", [key])
    assert others == [("loaded",)]
    assert not (wh.parent / ".downloads").exists()  # temporary files removed


def test_a_renamed_column_is_quarantined_and_the_previous_rows_are_kept(s3, bucket, client, demo, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    _ingest("locomvac", s3[0], bucket, wh, ext, "good")
    before = _q(wh, "select count(*), max(_loaded_at) from raw_locomvac.lovac where millesime = 2025")
    text = demo.files[LOVAC_2025].decode("latin-1").replace("|vlcad|", "|vlcad_euros|", 1)
    client.put_object(Bucket=bucket, Key=LOVAC_2025, Body=text.encode("latin-1"))
    match = (
        r"lovac/2025/raw.csv.*missing column\(s\) \['vlcad'\] \(did you mean `vlcad_euros`\?\); add a rename under renames.2025"
    )
    _quarantined(s3, bucket, wh, ext, "locomvac", LOVAC_2025, match)
    assert _q(wh, "select count(*), max(_loaded_at) from raw_locomvac.lovac where millesime = 2025") == before
    # Unchanged since: not retried, reported, the run does not fail again.
    report = _ingest("locomvac", s3[0], bucket, wh, ext, "next")
    assert report.still_quarantined == [LOVAC_2025]


def test_a_wrong_delimiter_is_named(s3, bucket, client, demo, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    text = demo.files[LOVAC_2025].decode("latin-1").replace(D, ",")
    client.put_object(Bucket=bucket, Key=LOVAC_2025, Body=text.encode("latin-1"))
    _quarantined(s3, bucket, wh, ext, "locomvac", LOVAC_2025, r"lovac/2025/raw.csv.*wrong delimiter\?")


def _latin1_owners(demo, client, bucket):
    """The FF owners file re-encoded in Windows-1252 ("Latin-1" as exports are) with accents in a kept column (declared utf-8)."""
    lines = _gz_lines(demo, OWNERS_2024)
    right = lines[0].split(",").index("ccodro")
    rows = [line.split(",") for line in lines[1:]]
    for fields in rows:
        fields[right] = "é" + fields[right]
    _put_lines(client, bucket, OWNERS_2024, lines[:1] + [",".join(f) for f in rows], encoding="cp1252")
    return len(rows)


def test_a_latin1_file_declared_utf8_is_decoded_as_what_it_is_and_reported(s3, bucket, client, demo, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    rows = _latin1_owners(demo, client, bucket)
    report = _ingest("ff", s3[0], bucket, wh, ext)
    outcome = next(o for o in report.outcomes if o.key == OWNERS_2024)
    assert outcome.status == "loaded" and outcome.rows == rows
    assert "declared utf-8, but the bytes are windows-1252: decoded as windows-1252" in outcome.reason
    values = _q(wh, "select distinct left(ccodro, 1) from raw_ff.ff_owners where _source_key = ?", [OWNERS_2024])
    assert values == [("é",)]  # no mojibake
    assert _q(wh, "select encoding from ops.file_manifest where object_key = ?", [OWNERS_2024]) == [("windows-1252",)]


def test_an_encoding_mismatch_quarantines_when_the_dataset_says_so(s3, bucket, client, demo, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    _latin1_owners(demo, client, bucket)
    spec = CONFIG.families["ff"]
    strict = dataclasses.replace(
        spec, datasets=tuple(dataclasses.replace(ds, on_encoding_mismatch="quarantine") for ds in spec.datasets)
    )
    with pytest.raises(fi.ContractError, match=r"owners.csv.gz.*declared utf-8, but the bytes are windows-1252"):
        _ingest(strict, s3[0], bucket, wh, ext)


def test_a_truncated_gzip_is_quarantined(s3, bucket, client, demo, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    body = demo.files[FF_2024]
    client.put_object(Bucket=bucket, Key=FF_2024, Body=body[: len(body) // 2])
    _quarantined(s3, bucket, wh, ext, "ff", FF_2024, r"ff/2024/raw.csv.gz.*truncated gzip")


@pytest.mark.parametrize(
    "body, match",
    [
        (b"", "empty file"),
        (b"\x1f\x8b" + b"not gzip at all", "not a valid gzip stream"),
        (b"7z\xbc\xaf\x27\x1c" + b"\x00" * 40, r"a 7z archive, which is not read"),
        (b"PK\x03\x04" + b"\x00" * 40, r"a zip archive, which is not read"),
    ],
)
def test_an_empty_or_corrupt_object_is_quarantined(s3, bucket, client, tmp_path, ext, body, match):
    wh = tmp_path / "wh.duckdb"
    key = FF_2024
    client.put_object(Bucket=bucket, Key=key, Body=gzip.compress(body) if body == b"" else body)
    _quarantined(s3, bucket, wh, ext, "ff", key, match)


def test_a_header_without_rows_and_duplicate_keys_are_quarantined(s3, bucket, client, demo, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    lines = _gz_lines(demo, FF_2024)
    _put_lines(client, bucket, FF_2024, lines[:1])
    _quarantined(s3, bucket, wh, ext, "ff", FF_2024, "a header and no data row")
    _put_lines(client, bucket, FF_2024, lines + lines[1:3])
    with pytest.raises(
        fi.ContractError,
        match=r"ff/2024/raw.csv.gz.*2 value\(s\) of key \(idlocal\) repeated on 4 line\(s\), e.g. \S+ at line\(s\) 2, "
        + str(len(lines) + 1),
    ):
        _ingest("ff", s3[0], bucket, wh, ext, "dup")


def test_a_few_malformed_lines_load_with_a_report_and_many_quarantine(s3, bucket, client, demo, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    lines = _gz_lines(demo, FF_2024)
    header = lines[0].split(",")
    year = header.index("jannath")
    fields = lines[5].split(",")
    fields[year] = "not-a-year"
    lines[5] = ",".join(fields)
    lines[9] = lines[9] + ",extra"
    _put_lines(client, bucket, FF_2024, lines)
    spec = CONFIG.families["ff"]
    lenient = dataclasses.replace(spec, datasets=tuple(dataclasses.replace(ds, max_malformed_share=0.01) for ds in spec.datasets))
    report = _ingest(lenient, s3[0], bucket, wh, ext, "lenient")
    loaded = next(o for o in report.outcomes if o.key == FF_2024)
    assert (loaded.status, loaded.rows, loaded.malformed) == ("loaded", len(lines) - 3, 2)
    assert "column jannath: value not INTEGER at line(s) 6 (1 line(s))" in loaded.reason
    assert "too many columns" in loaded.reason and "not-a-year" not in loaded.reason
    rejects = _q(wh, "select line, column_name, error_type from ops.file_rejects where object_key = ? order by line", [FF_2024])
    assert (6, "jannath", "CAST") in rejects and any(r[0] == 10 for r in rejects)
    # The same file with the declared share (0.1%): 2 of 3,999 rows is too many -> quarantined.
    with pytest.raises(fi.ContractError, match=r"2 of [\d,]+ row\(s\) malformed \([\d.]+% > 0.01% allowed\): column jannath"):
        _ingest(
            dataclasses.replace(
                spec, datasets=tuple(dataclasses.replace(ds, max_malformed_share=0.0001) for ds in spec.datasets)
            ),
            s3[0],
            bucket,
            tmp_path / "strict.duckdb",
            ext,
            "strict",
        )
    # the quarantine's facts are in the tables, not only in the reason's text
    strict = tmp_path / "strict.duckdb"
    assert _q(strict, "select status, rows_malformed from ops.file_manifest where object_key = ?", [FF_2024]) == [
        ("quarantined", 2)
    ]
    assert [r[0] for r in _q(strict, "select line from ops.file_rejects where object_key = ? order by line", [FF_2024])] == [
        6,
        10,
    ]


def test_on_contract_error_warn_reports_without_failing(s3, bucket, client, demo, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    client.put_object(Bucket=bucket, Key=LOVAC_2025, Body=b"not;the;contract\n1;2;3\n")
    spec = CONFIG.families["locomvac"]
    warn = dataclasses.replace(spec, datasets=tuple(dataclasses.replace(ds, on_contract_error="warn") for ds in spec.datasets))
    report = _ingest(warn, s3[0], bucket, wh, ext)
    assert _statuses(report)[LOVAC_2025] == "quarantined" and "1 quarantined" in report.summary()


def _parquet_family(departements: bool = False) -> fi.FamilySpec:
    pattern = "lake/test/parquet/{millesime}/" + ("{departement}/" if departements else "") + "housing.parquet"
    ds = fi.DatasetSpec(
        family="pq",
        name="housing",
        key_pattern=pattern,
        columns={"idlocal": "VARCHAR", "surface": "INTEGER", "owner": "VARCHAR", "ratio": "DOUBLE"},
        primary_key=("idlocal",),
        format="parquet",
        drop=("ratio",),
        pseudonymise=("owner",),
    )
    return fi.FamilySpec("pq", "test parquet family", (ds,))


def _put_parquet(client, bucket, key, tmp_path, sql):
    path = tmp_path / f"{abs(hash(key))}.parquet"
    duckdb.execute(f"copy ({sql}) to '{path}' (format parquet)")
    client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())


def test_parquet_per_departement_objects_replace_only_their_rows_and_types_are_checked(s3, bucket, client, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    family = _parquet_family(departements=True)
    rows = "select '{d}' || i::varchar as idlocal, i::integer as surface, 'Owner ' || i as owner, 0.5::double as ratio from range({n}) t(i)"
    _put_parquet(client, bucket, "lake/test/parquet/2024/67/housing.parquet", tmp_path, rows.format(d="67", n=10))
    _put_parquet(client, bucket, "lake/test/parquet/2024/2A/housing.parquet", tmp_path, rows.format(d="2A", n=5))
    _ingest(family, s3[0], bucket, wh, ext)
    assert _q(wh, "select departement, count(*) from raw_pq.housing group by 1 order by 1") == [("2A", 5), ("67", 10)]
    assert _q(wh, "select count(*) from raw_pq.housing where owner like 'Owner%'") == [(0,)]
    _put_parquet(client, bucket, "lake/test/parquet/2024/67/housing.parquet", tmp_path, rows.format(d="67", n=7))
    report = _ingest(family, s3[0], bucket, wh, ext, "second")
    assert sorted(_statuses(report).values()) == ["loaded", "unchanged"]
    assert _q(wh, "select departement, count(*) from raw_pq.housing group by 1 order by 1") == [("2A", 5), ("67", 7)]
    _put_parquet(
        client,
        bucket,
        "lake/test/parquet/2024/2A/housing.parquet",
        tmp_path,
        rows.format(d="2A", n=5).replace("i::integer", "i::varchar"),
    )
    with pytest.raises(fi.ContractError, match=r"2A/housing.parquet.*column surface: expected INTEGER, found VARCHAR"):
        _ingest(family, s3[0], bucket, wh, ext, "third")
    assert _q(wh, "select count(*) from raw_pq.housing where departement = '2A'") == [(5,)]


def test_declarations_are_validated():
    base = dict(family="f", name="d", key_pattern="x/{millesime}.csv", columns={"a": "VARCHAR"}, primary_key=("a",))
    fi.DatasetSpec(**base)
    with pytest.raises(ValueError, match="key_pattern must contain"):
        fi.DatasetSpec(**{**base, "key_pattern": "x/data.csv"})
    with pytest.raises(ValueError, match=r"column\(s\) \['b'\] not in its columns"):
        fi.DatasetSpec(**{**base, "pseudonymise": ("b",)})
    with pytest.raises(ValueError, match="format must be"):
        fi.DatasetSpec(**{**base, "format": "xlsx"})
    assert fi.DatasetSpec(**{**base, "key_pattern": "x/{millesime}/{departement}.csv"}).parse_key("x/2024/2B.csv") == (2024, "2B")


def test_the_deployment_bucket_overrides_the_declared_one(monkeypatch):
    monkeypatch.delenv("ZLV_S3_BUCKET", raising=False)
    declared = fi.load_config().bucket
    monkeypatch.setenv("ZLV_S3_BUCKET", "zlv-staging-bucket")
    assert fi.load_config().bucket == "zlv-staging-bucket" != declared


def test_keys_never_appear_in_settings_repr():
    settings = fi.S3Settings("http://x", "AKIA-TEST-ACCESS", "TEST-SECRET-VALUE")
    assert "TEST-SECRET-VALUE" not in repr(settings) and "AKIA-TEST-ACCESS" not in repr(settings)


def test_unreachable_storage_fails_clearly_and_loses_nothing(s3, bucket, tmp_path, ext):
    settings = s3[0]
    wh = tmp_path / "wh.duckdb"
    _ingest("ff", settings, bucket, wh, ext, "good")
    before = _q(wh, "select count(*), max(_loaded_at) from raw_ff.ff_housing")
    ref = fi.list_objects(settings, bucket, CONFIG.families["ff"])[0]
    changed = dataclasses.replace(ref, etag="0" * 32)  # as if replaced since the last load
    closed = dataclasses.replace(settings, endpoint_url="http://127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(fi.FileIngestError, match=r"cannot list s3://.*lake/cerema/ff/"):
        fi.list_objects(closed, bucket, CONFIG.families["ff"])
    with pytest.raises(fi.FileIngestError, match=rf"file s3://{bucket}/{ref.key}: storage unreachable"):
        fi.load_object(
            changed, CONFIG.families["ff"].dataset(ref.dataset), s3=closed, warehouse=wh, run_id="down", hash_key=TEST_HASH_KEY
        )
    assert _q(wh, "select count(*), max(_loaded_at) from raw_ff.ff_housing") == before
    assert _q(wh, "select status from ops.load_log where run_id = 'down'") == [("failed",)]
    assert _q(wh, "select distinct status from ops.file_manifest") == [("loaded",)]
    assert not (wh.parent / ".downloads").exists()


def _lovac_lines(demo, key=LOVAC_2025):
    return demo.files[key].decode("cp1252").splitlines()


def _put_text(client, bucket, key, lines, encoding="cp1252", bom=False):
    body = ("\n".join(lines) + "\n").encode(encoding)
    client.put_object(Bucket=bucket, Key=key, Body=(b"\xef\xbb\xbf" if bom else b"") + body)


def _with_column(lines, column, value_of):
    """The data lines (header excluded) with `column` set to value_of(its value)."""
    at = lines[0].split(D).index(column)
    out = []
    for line in lines[1:]:
        fields = line.split(D)
        fields[at] = value_of(fields[at])
        out.append(D.join(fields))
    return out


def _lovac_rows(wh, key=LOVAC_2025):
    return _q(
        wh,
        "select * exclude (_source_key, _loaded_at) from raw_locomvac.lovac where _source_key = ? order by ff_idlocal",
        [key],
    )


def test_lovac_in_utf8_with_a_bom_and_cp1252_bytes_in_a_dropped_column_give_the_same_rows(
    s3, bucket, client, demo, tmp_path, ext
):
    """The same LOVAC rows delivered as Windows-1252 with ’ and œ in a dropped column, and as UTF-8
    with a BOM under a dataset declared windows-1252: identical raw rows (pseudonymised ids too)."""
    lines = _lovac_lines(demo)
    marked = _with_column(lines, "proprietaire", lambda value: "SCI L’ŒUVRE " + value)
    wh1, wh2 = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    _put_text(client, bucket, LOVAC_2025, lines[:1] + marked, "cp1252")
    first = _ingest("locomvac", s3[0], bucket, wh1, ext)
    assert {o.key: o.status for o in first.outcomes}[LOVAC_2025] == "loaded"
    _put_text(client, bucket, LOVAC_2025, lines[:1] + marked, "utf-8", bom=True)
    second = _ingest("locomvac", s3[0], bucket, wh2, ext)
    outcome = next(o for o in second.outcomes if o.key == LOVAC_2025)
    assert outcome.status == "loaded" and "declared windows-1252, but the bytes are utf-8" in outcome.reason
    assert _lovac_rows(wh1) == _lovac_rows(wh2) and len(_lovac_rows(wh1)) > 100
    assert [r[0] for r in _q(wh2, "describe raw_locomvac.lovac")][0] == "annee"  # not "ï»¿annee"


def test_lovac_columns_in_another_order_with_extra_columns_load_by_name(s3, bucket, client, demo, tmp_path, ext):
    lines = _lovac_lines(demo)
    wh1, wh2 = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    _ingest("locomvac", s3[0], bucket, wh1, ext)
    header = lines[0].split(D)
    order = list(range(len(header)))
    random = __import__("random").Random(3)
    random.shuffle(order)
    shuffled = [D.join(([line.split(D)[i] for i in order]) + ["x", ""]) for line in lines]
    shuffled[0] = D.join([header[i] for i in order] + ["colonne_inconnue", ""])
    _put_text(client, bucket, LOVAC_2025, shuffled)
    report = _ingest("locomvac", s3[0], bucket, wh2, ext)
    outcome = next(o for o in report.outcomes if o.key == LOVAC_2025)
    assert outcome.status == "loaded" and "column(s) not in the contract, not read" in outcome.reason
    assert _lovac_rows(wh1) == _lovac_rows(wh2)
    ignored = _q(wh2, "select columns_ignored from ops.file_manifest where object_key = ?", [LOVAC_2025])
    assert "colonne_inconnue" in ignored[0][0] and "_unnamed_" in ignored[0][0] and "ff_ccogrm_1" in ignored[0][0]


def test_a_renamed_column_loads_through_the_rename_map_of_its_millesime(s3, bucket, client, demo, tmp_path, ext):
    lines = _lovac_lines(demo)
    lines[0] = lines[0].replace("|debutvacance|", "|debut_vacance|", 1)
    _put_text(client, bucket, LOVAC_2025, lines)
    spec = CONFIG.families["locomvac"]
    renamed = dataclasses.replace(
        spec, datasets=tuple(dataclasses.replace(ds, renames={2025: {"debut_vacance": "debutvacance"}}) for ds in spec.datasets)
    )
    report = _ingest(renamed, s3[0], bucket, tmp_path / "wh.duckdb", ext)
    outcome = next(o for o in report.outcomes if o.key == LOVAC_2025)
    assert outcome.status == "loaded" and "renamed for 2025: debut_vacance -> debutvacance" in outcome.reason
    assert _q(tmp_path / "wh.duckdb", "select count(debutvacance) > 0 from raw_locomvac.lovac where millesime = 2025") == [
        (True,)
    ]


def test_repeated_local_ids_keep_one_line_per_dwelling_as_zlv_does_and_are_reported(s3, bucket, client, demo, tmp_path, ext):
    lines = _lovac_lines(demo)
    header = lines[0].split(D)
    start, vlcad = header.index("debutvacance"), header.index("vlcad")
    repeated = lines[1].split(D)
    repeated[start] = str(int(repeated[start] or 2000) + 1)  # a later vacancy start: this line is the one kept
    repeated[vlcad] = "1"
    older = lines[2].split(D)
    older[start] = str(int(older[start] or 2000) - 1)  # an earlier start: the original line is kept
    _put_text(client, bucket, LOVAC_2025, lines + [D.join(repeated), D.join(older)])
    wh = tmp_path / "wh.duckdb"
    report = _ingest("locomvac", s3[0], bucket, wh, ext)
    outcome = next(o for o in report.outcomes if o.key == LOVAC_2025)
    n = len(lines)
    ids = [line.split(D)[header.index("ff_idlocal")] for line in lines[1:]]
    already = len(ids) - len(set(ids))  # the demo repeats ff_idlocal at the real rate already
    assert outcome.status == "loaded" and outcome.rows == len(set(ids))
    assert f"{2 + already} value(s) of key (ff_idlocal) repeated on {4 + 2 * already} line(s)" in outcome.reason
    assert (
        f"at line(s) 2, {n + 1}" in outcome.reason
        and "kept the first line of each by debutvacance desc, vlcad desc" in outcome.reason
    )
    kept = dict(
        _q(
            wh,
            "select ff_idlocal, vlcad from raw_locomvac.lovac where millesime = 2025 and ff_idlocal in (?, ?)",
            [repeated[header.index("ff_idlocal")], older[header.index("ff_idlocal")]],
        )
    )
    assert kept[repeated[header.index("ff_idlocal")]] == 1  # the later vacancy start won
    assert kept[older[header.index("ff_idlocal")]] == int(lines[2].split(D)[vlcad])  # the original line stayed


def test_reject_lines_are_physical_lines_after_a_quoted_newline(s3, bucket, client, demo, tmp_path, ext):
    lines = _gz_lines(demo, FF_2024)
    header = lines[0].split(",")
    idbat, year = header.index("idbat"), header.index("jannath")
    quoted = lines[2].split(",")
    quoted[idbat] = '"B\nÂT"'  # a value spanning two physical lines (record 2 = lines 3-4)
    bad = lines[6].split(",")
    bad[year] = "not-a-year"  # record 6: physical line 8
    lines[2], lines[6] = ",".join(quoted), ",".join(bad)
    _put_lines(client, bucket, FF_2024, lines)
    spec = CONFIG.families["ff"]
    lenient = dataclasses.replace(spec, datasets=tuple(dataclasses.replace(ds, max_malformed_share=0.01) for ds in spec.datasets))
    wh = tmp_path / "wh.duckdb"
    report = _ingest(lenient, s3[0], bucket, wh, ext)
    outcome = next(o for o in report.outcomes if o.key == FF_2024)
    assert "column jannath: value not INTEGER at line(s) 8 (1 line(s))" in outcome.reason, outcome.reason
    assert _q(wh, "select line from ops.file_rejects where object_key = ?", [FF_2024]) == [(8,)]


def test_one_object_failing_on_storage_does_not_stop_the_family(s3, bucket, client, demo, tmp_path, ext, monkeypatch):
    real_download = fi.download

    def flaky(client_, ref, ds, folder):
        if ref.key == FF_2024:
            raise fi.FileIngestError(f"file {ref.url}: storage unreachable (ConnectTimeoutError)")
        return real_download(client_, ref, ds, folder)

    monkeypatch.setattr(fi, "download", flaky)
    wh = tmp_path / "wh.duckdb"
    with pytest.raises(
        fi.FileIngestError, match=r"1 file\(s\) of family ff could not be read \(the others were\).*2024/raw.csv.gz"
    ):
        _ingest("ff", s3[0], bucket, wh, ext)
    statuses = dict(_q(wh, "select object_key, status from ops.file_manifest"))
    assert FF_2024 not in statuses and statuses[OWNERS_2024] == "loaded"
    assert (
        len([s for s in statuses.values() if s == "loaded"])
        == len([k for k in demo.files if k.startswith("lake/cerema/ff/")]) - 1
    )


def test_a_gzip_body_under_a_plain_key_is_read_as_gzip_and_reported(s3, bucket, client, demo, tmp_path, ext):
    body = demo.files[LOVAC_2025]
    client.put_object(Bucket=bucket, Key=LOVAC_2025, Body=gzip.compress(body))
    wh = tmp_path / "wh.duckdb"
    report = _ingest("locomvac", s3[0], bucket, wh, ext)
    outcome = next(o for o in report.outcomes if o.key == LOVAC_2025)
    assert outcome.status == "loaded" and "compression read from the bytes: gzip (declared none" in outcome.reason


def test_the_demo_writes_lovac_and_ff_in_the_real_layouts_and_they_load(s3, bucket, demo, tmp_path, ext):
    """LOVAC 2024 (139 columns, ';', NULL written \\N, no ff_idpersonne) and 2025 (154 columns, '|',
    Windows-1252 bytes), FF pb0010_local / proprietaire_droit as delivered: every object loads with no
    malformed line, one line per dwelling, and the manifest says what differed."""
    from zlv_dwh.demo import file_layouts

    assert demo.files[LOVAC_2025].decode("cp1252").splitlines()[0].split("|") == list(file_layouts.LOVAC_COLUMNS[2025])
    assert b"\\N" in demo.files["lake/cerema/lovac/2024/raw.csv"]
    assert any(0x80 <= b <= 0x9F for b in demo.files[LOVAC_2025])  # really Windows-1252, not Latin-1
    wh = tmp_path / "wh.duckdb"
    _ingest("locomvac", s3[0], bucket, wh, ext)
    _ingest("ff", s3[0], bucket, wh, ext)
    manifest = {k: (s, m, r) for k, s, m, r in _q(wh, "select object_key, status, rows_malformed, reason from ops.file_manifest")}
    assert {s for s, _, _ in manifest.values()} == {"loaded"} and {m for _, m, _ in manifest.values()} == {0}
    assert (
        "optional column(s) absent from this millésime, stored empty: ff_idpersonne_1, ff_idpersonne_2"
        in manifest["lake/cerema/lovac/2024/raw.csv"][2]
    )
    assert "repeated on" in manifest[LOVAC_2025][2] and "kept the first line of each" in manifest[LOVAC_2025][2]
    counts = dict(_q(wh, "select millesime, count(ff_idpersonne_1) from raw_locomvac.lovac group by 1 order by 1"))
    assert counts[2024] == 0 and counts[2025] > 0
    assert _q(wh, "select count(*) from raw_locomvac.lovac where vlcad is null or debutvacance is null") == [(0,)]
    assert (
        _q(wh, "select count(*), count(distinct (millesime, ff_idlocal)) from raw_locomvac.lovac")[0]
        == (generate.file_row_counts(demo)["lovac"],) * 2
    )


def test_a_utf8_file_with_a_stray_latin1_byte_is_quarantined_not_loaded_as_mojibake(s3, bucket, client, demo, tmp_path, ext):
    """Mostly UTF-8 (every accent right) but one byte is not: decoding it all as Windows-1252 would
    store « Lâ€™Å’UVRE » for « L’ŒUVRE ». Quarantined with the line of the stray byte instead."""
    lines = _lovac_lines(demo)
    marked = _with_column(lines, "proprietaire", lambda value: "SCI L’ŒUVRE é")
    body = ("\n".join(lines[:1] + marked) + "\n").encode("utf-8")
    third = body.index(b"\n", body.index(b"\n", body.index(b"\n") + 1) + 1)  # end of physical line 3
    body = body[:third] + b" \xe9" + body[third:]  # one Latin-1 é at the end of line 3
    client.put_object(Bucket=bucket, Key=LOVAC_2025, Body=body)
    wh = tmp_path / "wh.duckdb"
    _quarantined(s3, bucket, wh, ext, "locomvac", LOVAC_2025, r"mixed encodings .* but byte 0xE9 at line 3 is not UTF-8")
    assert _q(wh, "select count(*) from raw_locomvac.lovac where _source_key = ?", [LOVAC_2025]) == [(0,)]


def test_a_short_line_is_rejected_at_its_own_line_and_counted_apart_from_the_next(s3, bucket, client, demo, tmp_path, ext):
    """DuckDB places a line with too few fields at the next line's first byte: the short line 4
    and a bad value on line 5 are two malformed lines, each at its own line."""
    lines = _gz_lines(demo, FF_2024)
    header = lines[0].split(",")
    year = header.index("jannath")
    lines[3] = ",".join(lines[3].split(",")[:5])  # physical line 4: five fields only
    bad = lines[4].split(",")
    bad[year] = "not-a-year"  # physical line 5
    lines[4] = ",".join(bad)
    _put_lines(client, bucket, FF_2024, lines)
    spec = CONFIG.families["ff"]
    lenient = dataclasses.replace(spec, datasets=tuple(dataclasses.replace(ds, max_malformed_share=0.05) for ds in spec.datasets))
    wh = tmp_path / "wh.duckdb"
    report = _ingest(lenient, s3[0], bucket, wh, ext)
    outcome = next(o for o in report.outcomes if o.key == FF_2024)
    assert outcome.status == "loaded" and outcome.malformed == 2, outcome
    rejected = {line for (line,) in _q(wh, "select line from ops.file_rejects where object_key = ?", [FF_2024])}
    assert rejected == {4, 5}
    assert _q(wh, "select rows_malformed from ops.file_manifest where object_key = ?", [FF_2024]) == [(2,)]


def test_lines_without_a_local_id_are_one_repeated_key_like_any_other(s3, bucket, client, demo, tmp_path, ext):
    """Real exports hold lines whose ff_idlocal is empty: two of them are one repeated (empty) key,
    ranked and kept by the same rule, not a key 'also fed by another object'."""
    lines = _lovac_lines(demo)
    header = lines[0].split(D)
    key = header.index("ff_idlocal")
    blank = []
    for line in lines[1:3]:
        fields = line.split(D)
        fields[key] = ""
        blank.append(D.join(fields))
    _put_text(client, bucket, LOVAC_2025, lines + blank)
    wh = tmp_path / "wh.duckdb"
    report = _ingest("locomvac", s3[0], bucket, wh, ext)
    outcome = next(o for o in report.outcomes if o.key == LOVAC_2025)
    assert outcome.status == "loaded", outcome
    assert _q(wh, "select count(*) from raw_locomvac.lovac where _source_key = ? and ff_idlocal is null", [LOVAC_2025]) == [(1,)]
    assert f"at line(s) {len(lines) + 1}, {len(lines) + 2}" in outcome.reason
