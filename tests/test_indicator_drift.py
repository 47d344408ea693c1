"""The indicator drift gate against a real published file: first publication, tolerance, a vanished
key, operator approval, and publication refused while the gate has not passed."""

import hashlib

import pytest
from test_publish import _warehouse

from zlv_dwh import indicator_drift as drift
from zlv_dwh import publish
from zlv_dwh.warehouse import connect

CONFIG = drift.DriftConfig(
    (drift.Indicator("vacant_by_departement", "", "select k as key, v as value from {marts}.ind", 0.05),),
    "approve_indicator_drift",
    "zlv_approved_drift_run_ids",
)


def _gate(wh, out, run_id, approved=False):
    with connect(wh) as con:
        report = drift.compare(con, out, run_id, approved, CONFIG)
        drift.record(con, report)
    return report


def test_a_first_publication_passes_then_changes_are_compared_with_the_published_file(tmp_path):
    wh = _warehouse(tmp_path, "r1", indicator={"67": 1000, "69": 2000})
    out = tmp_path / "zlv_marts.duckdb"
    first = _gate(wh, out, "r1")
    assert first.verdict == "pass" and first.first_publication
    publish.publish(wh, out, "r1", tmp_path / "manifest.json")

    _warehouse(tmp_path, "r2", indicator={"67": 1040, "69": 2000, "2A": 10})  # +4% within 5%, a new key is not a breach
    second = _gate(wh, out, "r2")
    assert second.verdict == "pass" and {c.status for c in second.comparisons} == {"pass", "new"}


def test_a_jump_beyond_tolerance_or_a_vanished_key_blocks_publication_until_approved(tmp_path):
    wh = _warehouse(tmp_path, "r1", indicator={"67": 1000, "69": 2000})
    out = tmp_path / "zlv_marts.duckdb"
    _gate(wh, out, "r1")
    publish.publish(wh, out, "r1", tmp_path / "manifest.json")
    before = hashlib.sha256(out.read_bytes()).hexdigest()

    _warehouse(tmp_path, "r2", indicator={"67": 1088})  # the 8.8% inflation, and département 69 gone
    report = _gate(wh, out, "r2")
    assert report.verdict == "fail"
    table = report.summary()
    assert "67" in table and "1,000" in table and "1,088" in table and "+8.8%" in table and "5%" in table
    assert "69" in table and "gone" in table
    with pytest.raises(publish.PublishRefused, match="indicator drift gate verdict is fail"):
        publish.publish(wh, out, "r2", tmp_path / "manifest.json")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before

    approved = _gate(wh, out, "r2", approved=True)  # an operator looked and approved this run
    assert approved.verdict == "approved" and "approved by an operator" in approved.summary()
    publish.publish(wh, out, "r2", tmp_path / "manifest.json")
    with connect(wh, read_only=True) as con:
        rows = con.execute("select key, status from ops.indicator_drift where run_id = 'r2' order by key").fetchall()
    assert rows == [("67", "approved"), ("69", "approved"), (None, "verdict")]


def test_the_declared_indicators_parse_and_name_their_approval_switches():
    config = drift.load_config()
    assert {i.name for i in config.indicators} >= {"vacant_housing_national", "vacant_housing_by_departement"}
    assert all("{marts}" in i.sql and 0 < i.tolerance < 1 for i in config.indicators)
    assert config.approval_param == "approve_indicator_drift"
