"""The audit's rules on a real DuckDB file and a manifest shaped like dbt's."""

import json

import duckdb
import pytest

from zlv_dwh import rgpd_audit


def _manifest(tmp_path, columns: dict[str, dict[str, str | None]]):
    nodes = {
        f"model.zlv.{mart}": {
            "resource_type": "model",
            "name": mart,
            "alias": mart,
            "schema": "marts",
            "columns": {c: ({"meta": {"rgpd": cls}} if cls else {"meta": {}}) for c, cls in cols.items()},
        }
        for mart, cols in columns.items()
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"nodes": nodes}))
    return path


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.vacancy as select '67482' as geo_code, 12 as vacant_housing")
    return con


def test_classified_non_personal_marts_pass(con, tmp_path):
    manifest = _manifest(tmp_path, {"vacancy": {"geo_code": "none", "vacant_housing": "aggregated"}})
    report = rgpd_audit.audit(con, manifest, "r1")
    assert report.verdict == "pass", report.summary()
    assert report.marts == ["vacancy"]


@pytest.mark.parametrize(
    "cls, column, expected",
    [
        (None, "vacant_housing", "no meta.rgpd classification"),
        ("personal", "vacant_housing", "class 'personal' is not allowed in a mart"),
        ("secret", "vacant_housing", "unknown class 'secret'"),
    ],
)
def test_bad_classifications_fail_naming_mart_and_column(con, tmp_path, cls, column, expected):
    manifest = _manifest(tmp_path, {"vacancy": {"geo_code": "none", column: cls}})
    report = rgpd_audit.audit(con, manifest, "r1")
    assert report.verdict == "fail"
    assert f"FAIL vacancy.{column}" in report.summary() and expected in report.summary()


def test_a_personal_column_name_classified_none_fails(con, tmp_path):
    con.execute("create table marts.contacts as select 'x@y.fr' as owner_email")
    manifest = _manifest(
        tmp_path, {"vacancy": {"geo_code": "none", "vacant_housing": "aggregated"}, "contacts": {"owner_email": "none"}}
    )
    report = rgpd_audit.audit(con, manifest, "r1")
    assert report.verdict == "fail"
    assert "contacts.owner_email: column_name" in report.summary()
    assert "x@y.fr" not in report.to_json()  # findings never carry values


def test_a_table_no_model_declares_fails(con, tmp_path):
    con.execute("create table marts.hand_made as select 1 as n")
    manifest = _manifest(tmp_path, {"vacancy": {"geo_code": "none", "vacant_housing": "aggregated"}})
    report = rgpd_audit.audit(con, manifest, "r1")
    assert "FAIL hand_made.n" in report.summary()


def test_an_empty_marts_schema_fails(tmp_path):
    con = duckdb.connect()
    report = rgpd_audit.audit(con, _manifest(tmp_path, {}), "r1")
    assert report.verdict == "fail"


def test_recorded_verdict_is_readable_per_run(con, tmp_path):
    manifest = _manifest(tmp_path, {"vacancy": {"geo_code": "none", "vacant_housing": None}})
    rgpd_audit.record(con, rgpd_audit.audit(con, manifest, "r1"))
    rgpd_audit.record(con, rgpd_audit.audit(con, manifest, "r1"))  # a retry replaces, not appends
    assert rgpd_audit.verdict_of(con, "r1") == "fail"
    assert rgpd_audit.verdict_of(con, "other") is None
    assert con.execute("select count(*) from ops.rgpd_audit where check_name = 'verdict'").fetchone() == (1,)


def test_documentation_gaps_name_each_missing_or_unclassified_column(con, tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "metadata": {"project_name": "zlv"},
                "nodes": {
                    "model.zlv.vacancy": {
                        "resource_type": "model",
                        "package_name": "zlv",
                        "name": "vacancy",
                        "alias": "vacancy",
                        "schema": "marts",
                        "description": "One row per commune.",
                        "columns": {
                            "geo_code": {"description": "INSEE code", "meta": {"rgpd": "personal"}},
                            "ghost": {"description": "not built", "meta": {"rgpd": "none"}},
                        },
                    }
                },
            }
        )
    )
    gaps = rgpd_audit.documentation_gaps(con, manifest)
    assert "vacancy.geo_code: rgpd class 'personal' not in ['aggregated', 'none', 'pseudonymised']" in gaps
    assert "vacancy.vacant_housing: in the table, not in the YAML" in gaps
    assert "vacancy.ghost: in the YAML, not in the table" in gaps
