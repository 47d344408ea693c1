"""Faults around the warehouse file and the publication: two writers at once, a full disk while
publishing, a failing RGPD audit; and the permissions of what the pipeline writes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import types
from pathlib import Path

import duckdb
import psycopg
import pytest

from conftest import TEST_HASH_KEY
from faults.conftest import wh_one
from zlv_dwh import airflow_tasks, indicator_drift, pii, publish, rgpd_audit
from zlv_dwh.settings import Paths
from zlv_dwh.warehouse import WarehouseLockTimeout, connect

INCLUDE = Path(__file__).resolve().parents[2] / "include"
HOLDER = """
import sys
from pathlib import Path
from zlv_dwh.warehouse import connect
with connect(Path(sys.argv[1])) as con:
    con.execute("create or replace table first_writer as select range as n from range(100000)")
    print("holding", flush=True)
    sys.stdin.readline()  # hold the file until the test says so
    con.execute("insert into first_writer select 100000 + range from range(1000)")
"""


def _hold(wh: Path) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(wh)],
        env={"PYTHONPATH": str(INCLUDE), "PATH": "/usr/bin:/bin"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "holding"
    return child


def _release(child: subprocess.Popen) -> None:
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.wait(60) == 0


def test_a_second_writer_fails_clearly_and_the_file_stays_whole(fault, tmp_path):
    wh = tmp_path / "wh.duckdb"
    holder = _hold(wh)
    try:
        fault.inject("second writer through the warehouse helper")
        with pytest.raises(WarehouseLockTimeout, match="locked by another writer"):
            with connect(wh, lock_timeout_s=1):
                pass
        fault.inject("second writer bypassing the helper (plain DuckDB)")
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(wh)).execute("drop table first_writer")
    finally:
        _release(holder)
    assert wh_one(wh, "select count(*), count(distinct n) from first_writer") == (101000, 101000)


def test_a_second_writer_waits_for_the_first_then_both_writes_are_kept(fault, tmp_path):
    wh = tmp_path / "wh.duckdb"
    holder = _hold(wh)
    done = threading.Event()

    def second():
        with connect(wh, lock_timeout_s=60) as con:
            con.execute("create table second_writer as select 1 as n")
        done.set()

    fault.inject("second writer while the first holds the file")
    waiter = threading.Thread(target=second)
    waiter.start()
    try:
        assert not done.wait(1.0), "the second writer must wait while the first holds the lock"
    finally:
        _release(holder)
    waiter.join(60)
    assert done.is_set()
    assert wh_one(wh, "select (select count(*) from first_writer), (select count(*) from second_writer)") == (101000, 1)


def _manifest(path: Path, classes: dict[str, str | None]) -> Path:
    columns = {c: {"meta": {"rgpd": cls} if cls else {}} for c, cls in classes.items()}
    node = {"resource_type": "model", "name": "m", "alias": "m", "schema": "marts", "columns": columns}
    path.write_text(json.dumps({"nodes": {"model.zlv.m": node}}), encoding="utf-8")
    return path


def _audited_warehouse(wh: Path, manifest: Path, run_id: str, select: str) -> None:
    """A warehouse whose mart m is `select`, audited (and drift-gated) for run_id."""
    with connect(wh) as con:
        con.execute("create schema if not exists marts")
        con.execute(f"create or replace table marts.m as {select}")
        rgpd_audit.record(con, rgpd_audit.audit(con, manifest, run_id, key=TEST_HASH_KEY))
        indicator_drift.record(con, indicator_drift.DriftReport(run_id, "2026-01-01T00:00:00", first_publication=True))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB filesystem (tmpfs) for the published folder; skipped where mounting is not allowed."""
    mount_point = tmp_path / "published"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()[:120]}): disk-full fault not injected")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def test_disk_full_during_publish_keeps_the_previous_file(fault, small_disk, tmp_path):
    wh, out = tmp_path / "wh.duckdb", small_disk / "zlv_marts.duckdb"
    manifest = _manifest(tmp_path / "manifest.json", {"n": "none", "r": "none"})  # no public small-cell rule needed
    _audited_warehouse(wh, manifest, "r1", "select range as n, random() as r from range(1000)")
    publish.publish(wh, out, "r1", manifest)
    before = _digest(out)
    # ~2 million random doubles do not compress: far more than the disk has left.
    _audited_warehouse(wh, manifest, "r2", "select range as n, random() as r from range(2000000)")
    fault.inject("disk full during publish")
    with pytest.raises((duckdb.Error, OSError)) as failure:
        publish.publish(wh, out, "r2", manifest)
    fault.watch_text(str(failure.value))
    assert "space" in str(failure.value).lower() or "disk" in str(failure.value).lower(), str(failure.value)
    assert _digest(out) == before
    assert duckdb.connect(str(out), read_only=True).execute(
        "select max(_publication.run_id), count(*) from m, _publication"
    ).fetchone() == ("r1", 1000)
    leftovers = [p.name for p in small_disk.rglob("*") if ".tmp" in p.name]
    assert leftovers == [], "temporary files left on the full disk"
    fault.rows_lost += 1000 - duckdb.connect(str(out), read_only=True).execute("select count(*) from m").fetchone()[0]


def test_a_failing_rgpd_audit_publishes_nothing_and_sends_the_alert(fault, smtp_server, tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("ZLV_DATA_DIR", str(data))
    monkeypatch.setenv(pii.load_policy().key_env, TEST_HASH_KEY.decode())
    monkeypatch.setenv("ZLV_ALERT_RECIPIENTS", "data@zlv.example")
    monkeypatch.setenv("AIRFLOW_CONN_ZLV_SMTP", smtp_server.airflow_connection())
    paths = Paths.from_env()
    good = _manifest(tmp_path / "good.json", {"n": "none"})
    _audited_warehouse(paths.warehouse, good, "r1", "select range as n from range(10)")
    publish.publish(paths.warehouse, paths.published_marts, "r1", good)
    before = _digest(paths.published_marts)
    # The next run's mart carries owners' emails, declared harmless: the audit must stop it.
    bad = _manifest(tmp_path / "bad.json", {"n": "none", "contact": "none"})
    monkeypatch.setattr(airflow_tasks, "DBT_MANIFEST", bad)
    with connect(paths.warehouse) as con:
        con.execute(
            "create or replace table marts.m as select range as n, 'owner' || range || '@exemple.fr' as contact from range(10)"
        )

    fault.inject("RGPD audit fails")
    with pytest.raises(rgpd_audit.RgpdAuditFailed) as failure:
        airflow_tasks.run_rgpd_audit("r2")
    ti = types.SimpleNamespace(dag_id="zlv_transform", task_id="rgpd_audit", run_id="r2", try_number=1, log_url="http://x/log")
    airflow_tasks.notify_failure({"ti": ti, "exception": failure.value})
    with pytest.raises(publish.PublishRefused, match="RGPD audit verdict is fail"):
        airflow_tasks.publish_marts("r2")
    [alert] = smtp_server.wait_for(lambda m: "r2" in m.get_body().get_content() and "rgpd_audit" in m["subject"])
    assert "RGPD audit FAIL" in alert["subject"] and "contact" in alert.get_body().get_content()
    assert _digest(paths.published_marts) == before
    report = json.loads((paths.published_dir / "rgpd_audit.json").read_text())
    assert report["verdict"] == "fail" and report["run_id"] == "r2"
    fault.watch(paths.published_dir, paths.warehouse)
    fault.watch_text(str(failure.value), alert.as_string())
    assert "exemple.fr" not in (paths.published_dir / "rgpd_audit.json").read_text(), "findings name columns, never values"


def test_the_warehouse_its_journal_and_the_published_file_are_private(fault, tmp_path):
    wh = tmp_path / "data" / "wh.duckdb"
    manifest = _manifest(tmp_path / "manifest.json", {"n": "none"})
    modes = {}
    with connect(wh) as con:  # the journal exists while a writer has uncommitted-to-file changes
        con.execute("create table t as select 1 as n")
        modes = {p.name: p.stat().st_mode & 0o777 for p in wh.parent.iterdir() if p.is_file()}
    _audited_warehouse(wh, manifest, "r1", "select range as n from range(10)")
    out = tmp_path / "published" / "zlv_marts.duckdb"
    publish.publish(wh, out, "r1", manifest)
    fault.inject("warehouse, journal and published file permissions")
    assert modes == {"wh.duckdb": 0o600, "wh.duckdb.wal": 0o600, "wh.duckdb.lock": 0o600}, {k: oct(v) for k, v in modes.items()}
    assert wh.stat().st_mode & 0o777 == 0o600
    assert out.stat().st_mode & 0o007 == 0 and out.stat().st_mode & 0o777 <= 0o640, oct(out.stat().st_mode)


def test_no_secret_reaches_logs_load_logs_audit_report_or_published_file(
    fault, fault_db, loader_dsn, s3, tmp_path, ext, monkeypatch
):
    """A run with failures on every path (bad login, unreachable storage, a missing table), then a
    good run and a publication: everything a support person or Metabase reads is grepped."""
    from zlv_dwh import ingest_files as fi
    from zlv_dwh import ingest_postgres as ip

    wh = tmp_path / "wh.duckdb"
    fault.inject("secrets handed to failing and succeeding loads")
    spec = ip.TableSpec(name="owners_probe", primary_key=("id",), pseudonymise=("email",), keep_unclassified=True)
    with psycopg.connect(fault_db, autocommit=True) as con:
        con.execute("drop table if exists owners_probe")
        con.execute(
            "create table owners_probe as select i as id, 'p' || i || '@exemple.fr' as email from generate_series(1, 50) i"
        )
    bad_port = loader_dsn.replace("port=5432", "port=1") + " connect_timeout=2"
    for dsn in (bad_port, loader_dsn):
        for table in (spec, ip.TableSpec(name="no_such_table", primary_key=("id",))):
            try:
                ip.ingest_table(table, pg_dsn=dsn, warehouse=wh, run_id="secrets", key=TEST_HASH_KEY, extension_dir=ext)
            except ip.IngestError as exc:
                fault.watch_text(str(exc))
    settings, bucket = s3
    family = fi.load_config().families["locomvac"]
    for endpoint in ("http://127.0.0.1:9", settings.endpoint_url):
        try:
            fi.ingest_family(
                family,
                s3=fi.S3Settings(endpoint, settings.access_key_id, settings.secret_access_key),
                bucket=bucket,
                warehouse=wh,
                run_id="secrets",
                hash_key=TEST_HASH_KEY,
                extension_dir=ext,
            )
        except (fi.FileIngestError, fi.ContractError) as exc:
            fault.watch_text(str(exc))
    manifest = _manifest(tmp_path / "manifest.json", {"n": "none"})
    _audited_warehouse(wh, manifest, "secrets", "select range as n from range(10)")
    out = tmp_path / "published" / "zlv_marts.duckdb"
    publish.publish(wh, out, "secrets", manifest)
    with connect(wh) as con:
        report = rgpd_audit.audit(con, manifest, "secrets", key=TEST_HASH_KEY)
    rgpd_audit.write_json(report, out.parent / "rgpd_audit.json")
    fault.watch(wh, out.parent)
    assert wh_one(wh, "select count(*) from ops.load_log where status = 'failed'")[0] >= 3
    assert wh_one(wh, "select count(*) from ops.file_manifest where status = 'loaded'")[0] >= 2
    assert fault.scan("") == []  # the fixture greps the captured task log too when the test ends
