"""Publication: only after a passing audit, atomically, never damaging the previous file."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import TEST_HASH_KEY
from zlv_dwh import indicator_drift, publish, rgpd_audit
from zlv_dwh.warehouse import connect


def _warehouse(tmp_path, run_id, verdict_ok=True, rows=3, indicator=None):
    """A warehouse with mart m (and mart ind: key k, value v, when `indicator` is given), audited for run_id."""
    wh = tmp_path / "warehouse.duckdb"
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "nodes": {
                    "model.zlv.m": {
                        "resource_type": "model",
                        "name": "m",
                        "alias": "m",
                        "schema": "marts",
                        "columns": {"n": {"meta": {"rgpd": "none" if verdict_ok else None}}},
                    },
                    "model.zlv.ind": {
                        "resource_type": "model",
                        "name": "ind",
                        "alias": "ind",
                        "schema": "marts",
                        "columns": {"k": {"meta": {"rgpd": "none"}}, "v": {"meta": {"rgpd": "none"}}},
                    },
                }
            }
        )
    )
    with connect(wh) as con:
        con.execute("create schema if not exists marts")
        con.execute(f"create or replace table marts.m as select range as n from range({rows})")
        if indicator is not None:
            con.execute("create or replace table marts.ind (k varchar, v double)")
            con.executemany("insert into marts.ind values (?, ?)", list(indicator.items()))
        rgpd_audit.record(con, rgpd_audit.audit(con, manifest, run_id, key=TEST_HASH_KEY))
        indicator_drift.record(con, indicator_drift.DriftReport(run_id, "2026-01-01T00:00:00", first_publication=True))
    return wh


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_writes_a_readable_private_file(tmp_path):
    wh = _warehouse(tmp_path, "r1")
    out = tmp_path / "published" / "zlv_marts.duckdb"
    result = publish.publish(wh, out, "r1", tmp_path / "manifest.json")
    assert result.tables == {"m": 3}
    con = duckdb.connect(str(out), read_only=True)
    assert con.execute("select count(*) from m").fetchone() == (3,)
    assert con.execute("select run_id, rgpd_verdict from _publication").fetchone() == ("r1", "pass")
    assert (out.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in out.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_failed_audit_publishes_nothing_and_keeps_the_previous_file(tmp_path):
    wh = _warehouse(tmp_path, "r1")
    out = tmp_path / "zlv_marts.duckdb"
    publish.publish(wh, out, "r1", tmp_path / "manifest.json")
    before = _digest(out)
    wh = _warehouse(tmp_path, "r2", verdict_ok=False, rows=10)
    with pytest.raises(publish.PublishRefused, match="RGPD audit verdict is fail"):
        publish.publish(wh, out, "r2", tmp_path / "manifest.json")
    with pytest.raises(publish.PublishRefused, match="verdict is missing"):
        publish.publish(wh, out, "never-audited", tmp_path / "manifest.json")
    assert _digest(out) == before


def test_republish_replaces_the_file_while_a_reader_holds_the_old_one(tmp_path):
    wh = _warehouse(tmp_path, "r1", rows=3)
    out = tmp_path / "zlv_marts.duckdb"
    publish.publish(wh, out, "r1", tmp_path / "manifest.json")
    reader = duckdb.connect(str(out), read_only=True)  # a Metabase query in flight
    wh = _warehouse(tmp_path, "r2", rows=5)
    publish.publish(wh, out, "r2", tmp_path / "manifest.json")
    assert reader.execute("select count(*) from m").fetchone() == (3,)  # old snapshot, still whole
    reader.close()
    assert duckdb.connect(str(out), read_only=True).execute("select count(*) from m").fetchone() == (5,)


def test_each_publication_keeps_a_snapshot_and_partner_exports_pruned_to_the_declared_number(tmp_path, monkeypatch):
    monkeypatch.setattr(publish, "KEEP_SNAPSHOTS", 2)
    out = tmp_path / "published" / "zlv_marts.duckdb"
    for i, rows in enumerate((3, 4, 5)):
        wh = _warehouse(tmp_path, f"r{i}", rows=rows, indicator={"67": 100.0})
        publish.publish(wh, out, f"r{i}", tmp_path / "manifest.json")
    snapshots = sorted((out.parent / "snapshots").iterdir())
    assert len(snapshots) == 2 and snapshots[-1].stat().st_ino == out.stat().st_ino
    assert duckdb.connect(str(snapshots[0]), read_only=True).execute("select count(*) from m").fetchone() == (4,)
    exports = sorted(p for p in (out.parent / "exports").iterdir())
    assert len(exports) == 2 and not [p for p in exports if p.name.startswith(".")]
    manifest = json.loads((exports[-1] / "manifest.json").read_text())
    files = {f["file"]: f for f in manifest["files"]}
    assert set(files) == {"m.parquet", "m.csv", "ind.parquet", "ind.csv"} and files["m.csv"]["rows"] == 5
    assert files["m.csv"]["sha256"] == hashlib.sha256((exports[-1] / "m.csv").read_bytes()).hexdigest()
    assert (exports[-1] / "ind.csv").read_text(encoding="utf-8").splitlines()[0] == "k;v"


def test_a_reader_pinned_to_the_declared_storage_version_opens_the_published_file(tmp_path):
    """The DuckDB inside Metabase's driver lags behind: a DuckDB 1.1 reader must open the file."""
    target = tmp_path / "duckdb_1_1"
    uv = Path(sys.executable).with_name("uv")
    installed = subprocess.run(
        [str(uv), "pip", "install", "--python", sys.executable, "--target", str(target), "-q", "duckdb==1.1.3"],
        capture_output=True,
        text=True,
    )
    if installed.returncode != 0:
        pytest.skip(f"duckdb 1.1.3 cannot be installed here: {installed.stderr.strip()[:200]}")
    wh = _warehouse(tmp_path, "r1", rows=4, indicator={"67": 100.0})
    out = tmp_path / "zlv_marts.duckdb"
    publish.publish(wh, out, "r1", tmp_path / "manifest.json")
    reader = (
        "import sys, duckdb; c = duckdb.connect(sys.argv[1], read_only=True); "
        "print(duckdb.__version__, c.execute('select count(*) from m').fetchone()[0], "
        "c.execute('select count(*) from public.ind').fetchone()[0])"
    )
    ran = subprocess.run(
        [sys.executable, "-c", reader, str(out)], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(target)}
    )
    assert ran.returncode == 0, ran.stderr[-500:]
    assert ran.stdout.split() == ["1.1.3", "4", "1"]


def _publish_runs(tmp_path, runs):
    out = tmp_path / "published" / "zlv_marts.duckdb"
    for run_id, rows in runs:
        wh = _warehouse(tmp_path, run_id, rows=rows, indicator={"67": 100.0})
        publish.publish(wh, out, run_id, tmp_path / "manifest.json")
    return wh, out


def _runs_on_disk(out):
    snaps = sorted(p.name.rsplit(".", 2)[-2][17:] for p in (out.parent / "snapshots").iterdir())
    exports = sorted(p.name[17:] for p in (out.parent / "exports").iterdir() if p.is_dir())
    return snaps, exports


def test_purging_the_current_publication_puts_back_the_last_good_one_and_records_it(tmp_path):
    wh, out = _publish_runs(tmp_path, [("r1", 3), ("r2", 4), ("r2x", 6)])
    result = publish.purge(wh, out, "r2x", "a phone number found in a campaign title")
    assert result.republished_run_id == "r2"
    with duckdb.connect(str(out), read_only=True) as con:
        assert con.execute("select run_id from _publication").fetchone() == ("r2",)
        assert con.execute("select count(*) from m").fetchone() == (4,)
        assert con.execute("select count(*) from public.ind").fetchone() == (1,)
    assert _runs_on_disk(out) == (["r1", "r2"], ["r1", "r2"])
    assert json.loads(out.with_suffix(".publication.json").read_text())["purged"] == "r2x"
    with duckdb.connect(str(wh), read_only=True) as con:
        row = con.execute("select purged_run_id, reason, removed, republished_run_id from ops.publication_purges").fetchone()
    assert row[0] == "r2x" and row[1].startswith("a phone") and row[3] == "r2"
    assert "zlv_marts.duckdb" in json.loads(row[2]) and len(json.loads(row[2])) == 3  # file, snapshot, exports


def test_purging_an_older_publication_removes_only_its_files(tmp_path):
    wh, out = _publish_runs(tmp_path, [("r1", 3), ("r2", 4)])
    before = _digest(out)
    result = publish.purge(wh, out, "r1", "leak found later")
    assert result.republished_run_id == "r2" and _digest(out) == before
    assert _runs_on_disk(out) == (["r2"], ["r2"])


def test_purging_the_only_publication_leaves_nothing_published_and_an_unknown_run_is_refused(tmp_path):
    wh, out = _publish_runs(tmp_path, [("r1", 3)])
    with pytest.raises(publish.PublishRefused, match="run r9: no publication of it"):
        publish.purge(wh, out, "r9", "typo")
    assert publish.purge(wh, out, "r1", "leak").republished_run_id is None
    assert not out.exists() and _runs_on_disk(out) == ([], [])
    # "r1" is not mistaken for a run whose id merely ends the same way
    wh, out = _publish_runs(tmp_path, [("x_r1", 3)])
    with pytest.raises(publish.PublishRefused, match="no publication of it"):
        publish.purge(wh, out, "r1", "typo")


def test_the_purge_command_of_the_makefile_names_what_it_did(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    out = data / "published" / "zlv_marts.duckdb"
    data.mkdir()
    for run_id in ("r1", "r2"):
        wh = _warehouse(data, run_id, rows=3)
        publish.publish(wh, out, run_id, data / "manifest.json")
    monkeypatch.setenv("ZLV_DATA_DIR", str(data))
    assert publish.main(["purge", "r2", "--reason", "test"]) == 0
    printed = capsys.readouterr().out
    assert "purged r2" in printed and "published now: r1" in printed
    assert publish.main(["purge", "r2"]) == 1 and "no publication of it" in capsys.readouterr().out
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    assert 'zlv_dwh.publish purge "$(RUN)"' in makefile
