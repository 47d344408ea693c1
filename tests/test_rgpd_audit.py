"""The audit's rules on a real DuckDB file and a manifest shaped like dbt's."""

import dataclasses
import json

import duckdb
import pytest

from conftest import TEST_HASH_KEY
from zlv_dwh import pii, rgpd_audit


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
    report = rgpd_audit.audit(con, manifest, "r1", key=TEST_HASH_KEY)
    assert report.verdict == "pass", report.summary()
    assert report.marts == ["vacancy"]
    assert "content:email" in {c.check_name for c in report.checks}  # the text column was scanned


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


REAL_OWNER = "Hélène Marchand"
REAL_EMAIL = "helene.marchand@exemple.fr"


@pytest.fixture
def raw_people(con):
    """The raw zone as the ingestion leaves it: real names and emails only as keyed hashes."""
    con.execute("create schema raw_production")
    con.execute(
        "create table raw_production.owners as select ? as full_name, ? as email",
        [pii.hmac_sha256_hex(TEST_HASH_KEY, REAL_OWNER), pii.hmac_sha256_hex(TEST_HASH_KEY, REAL_EMAIL)],
    )
    con.execute("create table raw_production.users as select ? as email", [pii.hmac_sha256_hex(TEST_HASH_KEY, "agent@ville.fr")])
    return con


@pytest.mark.parametrize(
    "label, check",
    [
        (f"  {REAL_OWNER} ", "content:known_people"),  # a real owner's name copied into a label
        ("Relancer agent@ville.fr avant lundi", "content:email"),  # an email inside free text
        ("rappeler au 06 12 34 56 78", "content:french_phone"),
        ("RIB FR76 3000 6000 0112 3456 7890 189", "content:iban"),
    ],
)
def test_planted_personal_values_are_found_and_never_printed(raw_people, tmp_path, label, check):
    con = raw_people
    con.execute("create table marts.campaign_notes as select 'c1' as campaign_label, ? as campaign_comment", [label])
    manifest = _manifest(
        tmp_path,
        {
            "vacancy": {"geo_code": "none", "vacant_housing": "aggregated"},
            "campaign_notes": {"campaign_label": "none", "campaign_comment": "none"},
        },
    )
    report = rgpd_audit.audit(con, manifest, "r1", key=TEST_HASH_KEY)
    failed = {(c.mart, c.column_name, c.check_name) for c in report.failures}
    assert failed == {("campaign_notes", "campaign_comment", check)}, report.summary()
    assert "1 value(s) of all 1 row(s)" in report.summary()
    out = report.summary() + report.to_json()
    assert label.strip() not in out and REAL_OWNER not in out and "06 12" not in out


def test_a_date_of_birth_is_personal_only_next_to_a_name_like_column(raw_people, tmp_path):
    con = raw_people
    con.execute("create table marts.listing as select 'A1' as owner_label, '12/03/1961' as extra_info")
    con.execute("create table marts.calendar as select 'c1' as code, '2024-01-15' as period")
    manifest = _manifest(
        tmp_path,
        {
            "vacancy": {"geo_code": "none", "vacant_housing": "aggregated"},
            "listing": {"owner_label": "none", "extra_info": "none"},
            "calendar": {"code": "none", "period": "none"},
        },
    )
    report = rgpd_audit.audit(con, manifest, "r1", key=TEST_HASH_KEY)
    assert {(c.mart, c.column_name, c.check_name) for c in report.failures} == {
        ("listing", "extra_info", "content:date_of_birth")
    }
    assert "next to name-like column(s) owner_label" in report.summary()


def test_large_marts_are_scanned_through_a_sample_and_the_report_is_written_as_json(raw_people, tmp_path):
    con = raw_people
    con.execute("create table marts.big as select i::varchar as code from range(5000) t(i)")
    policy = pii.load_policy()
    small = dataclasses.replace(policy, content_scan={**policy.content_scan, "full_scan_below_rows": 1000, "sample_rows": 300})
    manifest = _manifest(tmp_path, {"vacancy": {"geo_code": "none", "vacant_housing": "aggregated"}, "big": {"code": "none"}})
    report = rgpd_audit.audit(con, manifest, "r1", policy=small, key=TEST_HASH_KEY)
    assert report.verdict == "pass"
    assert any("of a sample of 300 row(s)" in c.detail for c in report.checks if c.mart == "big")
    written = json.loads(rgpd_audit.write_json(report, tmp_path / "rgpd_audit.json").read_text())
    assert written["verdict"] == "pass" and {c["check_name"] for c in written["checks"]} >= {"classification", "content:email"}


def test_without_the_key_the_known_people_check_cannot_pass(con, tmp_path):
    manifest = _manifest(tmp_path, {"vacancy": {"geo_code": "none", "vacant_housing": "aggregated"}})
    report = rgpd_audit.audit(con, manifest, "r1")
    assert report.verdict == "fail" and "no pseudonymisation key" in report.summary()


# --- the raw zone, audited before dbt reads it ---


def _raw_config(**tables):
    from zlv_dwh.production_config import ProductionConfig, TableSpec

    return ProductionConfig(
        "zlv_production", "public", "raw_production", {n: TableSpec(name=n, **kw) for n, kw in tables.items()}
    )


RAW_TABLES = {
    "owners": dict(primary_key=("id",), keep=("id", "kind_class"), pseudonymise=("full_name", "email"),
                   derive={"administrator": ("length", "has_phone")}),
    "events": dict(primary_key=("id",), keep=("id", "type"), json_keys={}),
}  # fmt: skip


@pytest.fixture
def raw_zone():
    con = duckdb.connect()
    con.execute("create schema raw_production")
    con.execute(
        "create table raw_production.owners as select 1 as id, 'Particulier' as kind_class, ? as full_name, ? as email, "
        "12 as administrator_length, true as administrator_has_phone, now()::timestamp as _loaded_at",
        [pii.hmac_sha256_hex(TEST_HASH_KEY, REAL_OWNER), pii.hmac_sha256_hex(TEST_HASH_KEY, REAL_EMAIL)],
    )
    con.execute(
        "create table raw_production.events as select 1 as id, 'housing:status-updated' as type, "
        """'{"status": "Suivi en cours"}'::json as next_new"""
    )
    return con


def _events_config(extra_keep=()):
    from zlv_dwh.production_config import JsonFilter

    tables = dict(RAW_TABLES)
    tables["events"] = dict(
        primary_key=("id",), keep=("id", "type", *extra_keep), json_keys={"next_new": JsonFilter(by="type", keys_by_value={})}
    )
    return _raw_config(**tables)


def test_a_raw_zone_of_declared_treatments_without_personal_values_passes(raw_zone):
    report = rgpd_audit.audit_raw(raw_zone, _events_config(), "r", key=TEST_HASH_KEY)
    assert report.verdict == "pass", report.summary()
    assert report.run_id == "r#raw" and set(report.marts) == {"owners", "events"}
    scanned = {(c.mart, c.column_name) for c in report.checks if c.check_name.startswith("content:")}
    assert ("raw_production.events", "next_new") in scanned  # JSON is read as text
    assert ("raw_production.owners", "full_name") not in scanned  # keyed hashes are not scanned


@pytest.mark.parametrize(
    "payload, check",
    [
        ('{"status": "Suivi en cours", "comment": "rappeler au 06 12 34 56 78"}', "content:french_phone"),
        ('{"fullName": "x", "email": "helene.marchand@exemple.fr"}', "content:email"),
    ],
)
def test_personal_data_a_json_treatment_let_through_fails_the_raw_audit(raw_zone, payload, check):
    raw_zone.execute("insert into raw_production.events values (2, 'owner:updated', ?::json)", [payload])
    report = rgpd_audit.audit_raw(raw_zone, _events_config(), "r", key=TEST_HASH_KEY)
    assert report.verdict == "fail"
    assert [(c.mart, c.column_name, c.check_name) for c in report.failures] == [("raw_production.events", "next_new", check)]
    assert "06 12" not in report.summary() and "marchand" not in report.summary()


def test_a_column_kept_by_mistake_is_caught_by_its_values(raw_zone):
    raw_zone.execute("alter table raw_production.events add column label varchar")
    raw_zone.execute("update raw_production.events set label = ?", [REAL_OWNER])
    report = rgpd_audit.audit_raw(raw_zone, _events_config(extra_keep=("label",)), "r", key=TEST_HASH_KEY)
    assert ("raw_production.events", "label", "content:known_people") in {
        (c.mart, c.column_name, c.check_name) for c in report.failures
    }


def test_a_raw_column_without_a_treatment_or_an_undeclared_raw_table_fails(raw_zone):
    raw_zone.execute("alter table raw_production.owners add column nickname varchar")
    raw_zone.execute("create table raw_production.mystery as select 1 as x")
    report = rgpd_audit.audit_raw(raw_zone, _events_config(), "r", key=TEST_HASH_KEY)
    failed = {(c.mart, c.column_name, c.check_name): c.detail for c in report.failures}
    assert "unclassified" in failed[("raw_production.owners", "nickname", "classification")]
    assert "not declared" in failed[("raw_production.mystery", "x", "classification")]


def test_a_failed_audit_drops_the_marts_it_caught_and_keeps_only_the_report(raw_people, tmp_path):
    con = raw_people
    con.execute("create table marts.campaign_notes as select 'c1' as campaign_label, 'rappeler au 06 12 34 56 78' as comment")
    manifest = _manifest(
        tmp_path,
        {
            "vacancy": {"geo_code": "none", "vacant_housing": "aggregated"},
            "campaign_notes": {"campaign_label": "none", "comment": "none"},
        },
    )
    report = rgpd_audit.audit(con, manifest, "r1", key=TEST_HASH_KEY)
    rgpd_audit.record(con, report)
    assert rgpd_audit.drop_failed_marts(con, report) == ["campaign_notes"]
    tables = {
        r[0] for r in con.execute("select table_name from information_schema.tables where table_schema = 'marts'").fetchall()
    }
    assert tables == {"vacancy"}  # the clean mart stays
    stored = con.execute(
        "select string_agg(coalesce(detail, ''), ' ') from ops.rgpd_audit where mart = 'campaign_notes'"
    ).fetchone()[0]
    assert "french_phone" in stored and "06 12" not in stored
