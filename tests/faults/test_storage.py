"""Faults of the S3-compatible storage and of the files it delivers.

The product talks to a real HTTP endpoint: a loopback proxy in front of moto's S3 server, which can
be closed (storage down), answer 500, or hang up mid-body. Bad files are real objects."""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import re

import pytest

from conftest import TEST_HASH_KEY
from faults.conftest import wh_one
from zlv_dwh import ingest_files as fi
from zlv_dwh.demo import generate
from zlv_dwh.warehouse import connect, quote_ident

CONFIG = fi.load_config()
FF = CONFIG.families["ff"]
FF_2024 = "lake/cerema/ff/2024/raw.csv.gz"
_buckets = itertools.count()


def _rows_in(body: bytes, key: str) -> int:
    text = gzip.decompress(body) if key.endswith(".gz") else body
    return text.count(b"\n") - 1  # the header


@pytest.fixture
def bucket(s3, demo):
    settings, source_bucket = s3
    name = f"{source_bucket}-faults-{next(_buckets)}"
    generate.upload_files(demo, settings.endpoint_url, settings.access_key_id, settings.secret_access_key, name)
    return name


@pytest.fixture
def via_proxy(s3, s3_proxy) -> fi.S3Settings:
    """The product's S3 settings, pointed at the faulty endpoint."""
    return dataclasses.replace(s3[0], endpoint_url=s3_proxy.url)


def _ingest(family, settings, bucket, wh, ext, run_id):
    return fi.ingest_family(
        family, s3=settings, bucket=bucket, warehouse=wh, run_id=run_id, hash_key=TEST_HASH_KEY, extension_dir=ext
    )


def _load(ref, settings, wh, run_id):
    return fi.load_object(ref, FF.dataset(ref.dataset), s3=settings, warehouse=wh, run_id=run_id, hash_key=TEST_HASH_KEY)


def _rows_of(wh, key) -> int:
    """Rows the warehouse holds from this object (0 when its table does not exist yet)."""
    table = "ff_owners" if "owners" in key else "ff_housing"
    if not wh_one(wh, "select count(*) from information_schema.tables where table_schema = 'raw_ff' and table_name = ?", [table])[
        0
    ]:
        return 0
    return wh_one(wh, f"select count(*) from raw_ff.{table} where _source_key = ?", [key])[0]


def _rows_lost(demo, wh, keys) -> int:
    """Rows of these objects missing from the warehouse."""
    return sum(max(0, _rows_in(demo.files[key], key) - _rows_of(wh, key)) for key in keys)


def _ff_keys(demo):
    return sorted(k for k in demo.files if k.startswith("lake/cerema/ff/"))


def test_storage_down_then_back_loses_nothing(fault, via_proxy, s3_proxy, bucket, demo, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    fault.watch(wh)
    listed = fi.list_objects(via_proxy, bucket, FF)
    fault.inject("S3 server unreachable between listing and download")
    s3_proxy.stop()
    for ref in listed:
        with pytest.raises(fi.FileIngestError, match=rf"file s3://{bucket}/{re.escape(ref.key)}: storage unreachable") as e:
            _load(ref, via_proxy, wh, "down")
        fault.watch_text(str(e.value))
    fault.inject("S3 server unreachable at listing")
    with pytest.raises(fi.FileIngestError, match="cannot list") as e:
        _ingest(FF, via_proxy, bucket, wh, ext, "down")
    fault.watch_text(str(e.value))
    assert wh_one(wh, "select count(*) from ops.file_manifest") == (0,)
    s3_proxy.start()  # same port: the storage is back
    report = _ingest(FF, via_proxy, bucket, wh, ext, "back")
    assert {o.status for o in report.outcomes} == {"loaded"}
    fault.rows_lost += _rows_lost(demo, wh, _ff_keys(demo))
    assert fault.rows_lost == 0


@pytest.mark.parametrize("how", ["500 every time", "500 once", "body cut mid-download"])
def test_storage_errors_mid_download_fail_the_object_and_the_retry_loads_it_once(
    fault, via_proxy, s3_proxy, bucket, demo, tmp_path, ext, how
):
    wh = tmp_path / "wh.duckdb"
    fault.watch(wh)
    fault.inject(f"S3 {how} ({FF_2024})")
    if how == "500 every time":
        s3_proxy.fail_with_500[FF_2024] = 100
    elif how == "500 once":
        s3_proxy.fail_with_500[FF_2024] = 1
    else:
        s3_proxy.cut_body[FF_2024] = 100
    if how == "500 once":  # the client's own retry absorbs it
        report = _ingest(FF, via_proxy, bucket, wh, ext, "run")
        assert {o.status for o in report.outcomes} == {"loaded"}
    else:
        expected = "storage refused the download" if how.startswith("500") else "download interrupted"
        with pytest.raises(fi.FileIngestError, match=rf"{re.escape(FF_2024)}: {expected}") as e:
            _ingest(FF, via_proxy, bucket, wh, ext, "run")
        fault.watch_text(str(e.value))
        assert wh_one(wh, "select status from ops.load_log where object_key = ?", [FF_2024]) == ("failed",)
        assert _rows_of(wh, FF_2024) == 0
        assert not (wh.parent / ".downloads").exists()
        s3_proxy.fail_with_500.clear()
        s3_proxy.cut_body.clear()
        report = _ingest(FF, via_proxy, bucket, wh, ext, "retry")
        assert {o.key: o.status for o in report.outcomes}[FF_2024] == "loaded"
    fault.rows_lost += _rows_lost(demo, wh, _ff_keys(demo))
    assert fault.rows_lost == 0
    assert wh_one(wh, "select count(*) - count(distinct idlocal || millesime) from raw_ff.ff_housing") == (0,)


def test_an_object_deleted_between_listing_and_download_is_skipped_and_the_rest_loads(fault, s3, bucket, demo, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    listed = fi.list_objects(s3[0], bucket, FF)
    fault.inject("object deleted between listing and download")
    fi.s3_client(s3[0]).delete_object(Bucket=bucket, Key=FF_2024)
    outcomes = [_load(ref, s3[0], wh, "run") for ref in listed]
    report = fi.finish_family(FF, listed, outcomes, warehouse=wh, run_id="run")
    statuses = {o.key: o.status for o in report.outcomes}
    assert statuses.pop(FF_2024) == "missing" and set(statuses.values()) == {"loaded"}
    fault.rows_lost += _rows_lost(demo, wh, [k for k in _ff_keys(demo) if k != FF_2024])
    assert fault.rows_lost == 0


def _gz(lines: list[str], encoding: str = "utf-8") -> bytes:
    return gzip.compress(("\n".join(lines) + "\n").encode(encoding))


def _bad_files(demo) -> dict[str, tuple[bytes, str]]:
    """One bad delivery per millésime of ff_housing: (body, what the quarantine reason must say)."""
    lines = gzip.decompress(demo.files[FF_2024]).decode().splitlines()
    header, rows = lines[0], lines[1:]
    fields = header.split(",")
    ccthp = fields.index("ccthp")

    def without_last(line):
        return line.rsplit(",", 1)[0]

    catpro3 = fields.index("catpro3")

    def without_catpro3(line):
        parts = line.split(",")
        return ",".join(parts[:catpro3] + parts[catpro3 + 1 :])

    body = demo.files[FF_2024]
    marked = rows[10].split(",")
    marked[ccthp] = "MARK" + marked[ccthp]
    plain = ("\n".join([header] + rows[:10] + [",".join(marked)] + rows[11:]) + "\n").encode("cp1252")
    undecodable = gzip.compress(plain.replace(b"MARK", b"\x81", 1))  # on line 12 (header = line 1)
    return {
        "truncated gzip": (body[: len(body) // 2], "truncated gzip"),
        "undecodable byte": (undecodable, "byte 0x81 at line 12 is a character in none of UTF-8, Windows-1252 or Latin-1"),
        "wrong delimiter": (_gz([line.replace(",", ";") for line in lines]), "wrong delimiter?"),
        "missing column": (_gz([without_catpro3(line) for line in lines]), "missing column(s) ['catpro3']"),
        "duplicate keys": (_gz(lines + rows[:3]), "3 value(s) of key (idlocal) repeated on 6 line(s)"),
        "empty file": (gzip.compress(b""), "empty file"),
        "0-row millesime": (_gz([header]), "a header and no data row"),
        "malformed lines": (_gz([header] + [without_last(r) for r in rows[:5]] + rows[5:]), "5 of 300 row(s) malformed"),
        "7z archive": (b"7z\xbc\xaf\x27\x1c" + bytes(64), "a 7z archive, which is not read"),
    }


def _tolerated_files(demo) -> dict[str, tuple[bytes, str]]:
    """Deliveries real files look like, which load (reported): (body, what the manifest reason says)."""
    lines = gzip.decompress(demo.files[FF_2024]).decode().splitlines()
    header, rows = lines[0], lines[1:]
    ccthp = header.split(",").index("ccthp")

    def accent(line):
        parts = line.split(",")
        parts[ccthp] = "é" + parts[ccthp]
        return ",".join(parts)

    swapped = header.split(",")
    order = list(range(len(swapped)))[::-1]
    reorder = lambda line: ",".join(line.split(",")[i] for i in order)  # noqa: E731
    return {
        "windows-1252 bytes declared utf-8": (_gz([header] + [accent(r) for r in rows], "cp1252"), "decoded as windows-1252"),
        "extra and trailing empty columns": (
            _gz([header + ",bonus,"] + [r + ",1," for r in rows]),
            "column(s) not in the contract, not read",
        ),
        "columns in another order": (_gz([reorder(line) for line in lines]), None),
        "plain CSV under a .gz key": (("\n".join(lines) + "\n").encode(), "compression read from the bytes: none"),
    }


def _put_ff_deliveries(fault, client, bucket, files: dict, first_year: int, what: str) -> dict[str, tuple[str, str]]:
    """One ff_housing object per millésime from `first_year` on; key -> (name, expected reason)."""
    placed = {}
    for year, (name, (body, reason)) in enumerate(files.items(), start=first_year):
        key = f"lake/cerema/ff/{year}/raw.csv.gz"
        client.put_object(Bucket=bucket, Key=key, Body=body)
        placed[key] = (name, reason)
        fault.inject(f"{what}: {name}")
    return placed


def test_bad_files_are_quarantined_with_their_reason_and_the_rest_loads(fault, s3, bucket, demo, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    fault.watch(wh)
    client = fi.s3_client(s3[0])
    bad = _put_ff_deliveries(fault, client, bucket, _bad_files(demo), 2001, "bad file")
    with pytest.raises(fi.ContractError, match=rf"{len(bad)} file\(s\) of family ff quarantined") as e:
        _ingest(FF, s3[0], bucket, wh, ext, "run")
    fault.watch_text(str(e.value))
    with connect(wh) as con:
        manifest = dict(
            (k, (s, r)) for k, s, r in con.execute("select object_key, status, reason from ops.file_manifest").fetchall()
        )
    for key, (name, reason) in bad.items():
        status, found = manifest[key]
        assert status == "quarantined" and reason in found, f"{name}: {status} {found}"
        assert _rows_of(wh, key) == 0, name
    fault.rows_lost += _rows_lost(demo, wh, _ff_keys(demo))
    assert fault.rows_lost == 0
    assert {manifest[k][0] for k in _ff_keys(demo)} == {"loaded"}


def test_files_as_real_deliveries_come_load_by_name_and_report_what_differs(fault, s3, bucket, demo, tmp_path, ext):
    wh = tmp_path / "wh.duckdb"
    client = fi.s3_client(s3[0])
    tolerated = _put_ff_deliveries(fault, client, bucket, _tolerated_files(demo), 2011, "real-world delivery")
    _ingest(FF, s3[0], bucket, wh, ext, "run")
    with connect(wh) as con:
        manifest = {k: (s, r) for k, s, r in con.execute("select object_key, status, reason from ops.file_manifest").fetchall()}
        good = con.execute(
            "select * exclude (millesime, _source_key, _loaded_at) from raw_ff.ff_housing where millesime = 2024 order by idlocal"
        ).fetchall()
        for key, (name, reason) in tolerated.items():
            status, found = manifest[key]
            assert status == "loaded" and (reason is None or reason in (found or "")), f"{name}: {status} {found}"
            rows = con.execute(
                "select * exclude (millesime, _source_key, _loaded_at) from raw_ff.ff_housing where _source_key = ? order by idlocal",
                [key],
            ).fetchall()
            if name == "extra and trailing empty columns":
                ignored = con.execute("select columns_ignored from ops.file_manifest where object_key = ?", [key]).fetchone()[0]
                width = len(gzip.decompress(demo.files[FF_2024]).decode().splitlines()[0].split(","))
                assert ignored.endswith(f"bonus, _unnamed_{width + 2}"), ignored
            if name == "windows-1252 bytes declared utf-8":
                assert all(r[5].startswith("é") for r in rows)  # ccthp decoded, not mojibake
            else:
                assert rows == good, f"{name}: the values differ from the same rows delivered as declared"


def test_hostile_names_in_the_file_configuration_are_quoted(fault, s3, bucket, tmp_path, ext):
    hostile_column = 'x"; drop table raw_ff.victim; --'
    config = tmp_path / "file_families.yml"
    config.write_text(
        "connection_id: zlv_s3\nbucket: b\nfamilies:\n  ff:\n    datasets:\n"
        '      "v\'); drop table raw_ff.victim; --":\n'
        '        key_pattern: "lake/o\'brien/{millesime}/data.csv"\n'
        f"        primary_key: [{hostile_column!r}]\n"
        f"        pseudonymise: [{hostile_column!r}]\n"
        f'        columns: {{{hostile_column!r}: VARCHAR, "n": INTEGER}}\n',
        encoding="utf-8",
    )
    family = fi.load_config(config).families["ff"]
    header = '"' + hostile_column.replace('"', '""') + '",n'
    fi.s3_client(s3[0]).put_object(
        Bucket=bucket, Key="lake/o'brien/2024/data.csv", Body=("\n".join([header, "a,1", "b,2"]) + "\n").encode()
    )
    wh = tmp_path / "wh.duckdb"
    with connect(wh) as con:
        con.execute("create schema raw_ff; create table raw_ff.victim as select 42 as answer")
    fault.inject("hostile dataset, column and key names in file_families.yml")
    report = _ingest(family, s3[0], bucket, wh, ext, "run")
    assert [o.status for o in report.outcomes] == ["loaded"], report.summary()
    assert wh_one(wh, "select answer from raw_ff.victim") == (42,)
    table = f"raw_ff.{quote_ident(family.datasets[0].name)}"
    assert wh_one(
        wh, f"select count(*), sum(n), count(*) filter (where {quote_ident(hostile_column)} in ('a', 'b')) from {table}"
    ) == (
        2,
        3,
        0,
    )
