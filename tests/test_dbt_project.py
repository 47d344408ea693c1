"""The dbt project's contract with the rest of the product, read from its manifest (no database):
every model tested on its key and linked to its neighbours, every column documented and classified,
every raw table a freshness-checked source with its staging model, every mart behind a dashboard."""

import os
import subprocess
import sys

import duckdb
import pytest

from zlv_dwh import ingest_files, ingest_postgres
from zlv_dwh.settings import DBT_PROJECT_DIR, REPO_ROOT


@pytest.fixture(scope="module")
def models(dbt_manifest):
    return {n["name"]: n for n in dbt_manifest["nodes"].values() if n["resource_type"] == "model"}


@pytest.fixture(scope="module")
def tests_by_model(dbt_manifest, models):
    """model name -> set of test kinds touching it ('relationships' counts for parent and child)."""
    by_id = {n["unique_id"]: name for name, n in models.items()}
    kinds = {name: set() for name in models}
    for node in dbt_manifest["nodes"].values():
        if node["resource_type"] != "test":
            continue
        kind = (node.get("test_metadata") or {}).get("name", "singular")
        for parent in node["depends_on"]["nodes"]:
            if parent in by_id:
                kinds[by_id[parent]].add(kind)
    return kinds


def test_every_model_has_a_tested_key_and_takes_part_in_a_relationship_or_reconciliation(tests_by_model):
    for model, kinds in tests_by_model.items():
        assert kinds & {"unique", "unique_combination"}, f"{model}: no uniqueness test on its key"
        assert "not_null" in kinds, f"{model}: no not_null test"
        assert kinds & {"relationships", "singular"}, f"{model}: no relationship or reconciliation test"


def test_statuses_are_checked_against_accepted_values(dbt_manifest, models):
    status_columns = {
        (name, col) for name, m in models.items() for col in m["columns"] if col in ("status", "new_status", "last_status")
    }
    checked = {
        (dbt_manifest["nodes"][t["attached_node"]]["name"], t["column_name"])
        for t in dbt_manifest["nodes"].values()
        if t["resource_type"] == "test" and (t.get("test_metadata") or {}).get("name") == "accepted_values"
    }
    assert status_columns and status_columns <= checked, status_columns - checked


def test_every_column_of_every_model_is_described_and_classified(models):
    for name, model in models.items():
        assert model["description"], name
        assert model["columns"], f"{name}: no column documented"
        for col, spec in model["columns"].items():
            assert spec["description"], f"{name}.{col}: no description"
            assert spec["meta"].get("rgpd") in ("none", "pseudonymised", "aggregated", "personal"), f"{name}.{col}"


def test_every_loaded_raw_table_is_a_fresh_checked_source_with_a_staging_model(dbt_manifest, models):
    sources = {(s["source_name"], s["name"]): s for s in dbt_manifest["sources"].values()}
    expected = [("production", t) for t in ingest_postgres.load_config().tables]
    for family in ingest_files.load_config().families.values():
        expected += [(family.name, ds.name) for ds in family.datasets]
    staged = {tuple(s.split(".")[-2:]) for m in models.values() for s in m["depends_on"]["nodes"] if s.startswith("source.")}
    for key in expected:
        assert key in sources, f"raw table {key} is not declared as a dbt source"
        source = sources[key]
        assert source["loaded_at_field"] == "_loaded_at", key
        freshness = source["freshness"]
        assert freshness["warn_after"]["count"] and freshness["error_after"]["count"], key
        assert key in staged, f"raw table {key} has no staging model"


def test_every_mart_feeds_a_dashboard_exposure(dbt_manifest, models):
    marts = {name for name, m in models.items() if m["fqn"][1] == "marts"}
    exposed = {d.split(".")[-1] for e in dbt_manifest["exposures"].values() for d in e["depends_on"]["nodes"]}
    assert len(marts) >= 7 and marts <= exposed, marts - exposed


def test_every_mart_has_an_enforced_contract_naming_each_column_type(models):
    """Metabase's questions and the public views read the marts by name and type: a change of
    either is a failed build (dbt's contract), not a broken dashboard found later."""
    marts = {name: m for name, m in models.items() if m["fqn"][1] == "marts"}
    assert len(marts) >= 12
    for name, mart in marts.items():
        assert mart["config"]["contract"]["enforced"] is True, name
        for column, spec in mart["columns"].items():
            assert spec.get("data_type"), f"{name}.{column}: no data_type in the contract"
        keys_not_null = [
            c for c, spec in mart["columns"].items() if any(k["type"] == "not_null" for k in spec.get("constraints", []))
        ]
        assert keys_not_null, f"{name}: no not_null constraint"


def test_the_seeds_load_into_the_warehouse(tmp_path):
    """In a process of its own, as the Airflow task runs it (dbt-duckdb keeps the file open until exit)."""
    warehouse = tmp_path / "wh.duckdb"
    code = (
        "import sys; from pathlib import Path; from zlv_dwh import dbt_commands; "
        "print(dbt_commands.seed_referentials(Path(sys.argv[1]), Path(sys.argv[2])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(warehouse), str(tmp_path / "target")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "include")},
    )
    assert out.stdout.strip().splitlines()[-1] == "['housing_status_forms', 'housing_sub_statuses', 'lovac_public_criteria']"
    rows = (DBT_PROJECT_DIR / "seeds" / "housing_sub_statuses.csv").read_text(encoding="utf-8").strip().splitlines()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from referential.housing_sub_statuses").fetchone()[0] == len(rows) - 1
