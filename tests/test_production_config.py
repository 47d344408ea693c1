"""production_tables.yml: strictly parsed, every column of the real schema classified, typos named."""

from __future__ import annotations

import copy

import psycopg
import pytest
import yaml

from zlv_dwh import production_config as pc
from zlv_dwh.config_schema import ConfigError
from zlv_dwh.settings import CONFIG_DIR

SHIPPED = CONFIG_DIR / "production_tables.yml"
ZLV_WAREHOUSE_TABLES = {  # what ZLV's own warehouse copies (analytics/), plus localities
    "buildings", "owners", "fast_housing", "owners_housing", "events", "housing_events", "housing_document_events",
    "owner_events", "establishments", "users", "campaigns_housing", "campaigns", "group_housing_events", "groups",
    "groups_housing", "geo_perimeters", "notes", "housing_notes", "owner_notes", "localities",
}  # fmt: skip


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def _load(tmp_path, data):
    path = tmp_path / "production_tables.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return pc.load_config(path)


def test_the_shipped_config_declares_the_twenty_tables():
    assert set(pc.load_config().tables) == ZLV_WAREHOUSE_TABLES


def test_every_column_of_the_real_schema_has_a_treatment_and_no_declared_column_is_missing(production_db):
    config = pc.load_config()
    with psycopg.connect(production_db) as con:
        for name, spec in config.tables.items():
            columns = [
                r[0]
                for r in con.execute(
                    "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped",
                    [f"public.{name}"],
                ).fetchall()
            ]
            unclassified = [c for c in columns if spec.treatment_of(c) is None]
            assert not unclassified, f"{name}: no treatment for {unclassified}"
            assert set(spec.declared_columns) <= set(columns), (
                f"{name}: declared but absent {set(spec.declared_columns) - set(columns)}"
            )


def test_personal_columns_of_the_real_schema_are_never_kept_in_clear():
    tables = pc.load_config().tables
    must_not_be_kept = {
        "users": ["email", "password", "first_name", "last_name", "phone", "position", "two_factor_secret", "two_factor_code"],
        "owners": ["full_name", "full_name_fts", "administrator", "birth_date", "email", "phone", "address_dgfip", "idpersonne"],
        "fast_housing": ["address_dgfip"],
        "notes": ["content"],
        "campaigns": ["title", "description", "filters"],
        "groups": ["title", "description"],
        "events": ["next_old", "next_new"],
    }
    for table, columns in must_not_be_kept.items():
        for column in columns:
            assert tables[table].treatment_of(column) not in (None, "keep"), f"{table}.{column}"
    assert set(tables["users"].drop) >= {c for c in ("two_factor_secret", "two_factor_code", "two_factor_enabled_at")}


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda r: r["tables"]["users"]["columns"].__setitem__("email", "pseudonymize"),
         r"tables.users.columns.*columns.email: unknown treatment 'pseudonymize' \(did you mean `pseudonymise`\?\)"),
        (lambda r: r["tables"]["owners"].__setitem__("dorp", ["phone"]), r"tables.owners.*`dorp:` lists are not read"),
        (lambda r: r["tables"]["owners"].__setitem__("pseudonymize", ["email"]), r"`pseudonymize:` lists are not read"),
        (lambda r: r["tables"]["users"].__setitem__("watermrk", "updated_at"),
         r"unknown key `tables.users.watermrk` \(did you mean `watermark`\?\)"),
        (lambda r: r.__setitem__("target_shema", "raw"), r"unknown key `target_shema` \(did you mean `target_schema`\?\)"),
        (lambda r: r["defaults"].__setitem__("overlap_minuts", 5), r"unknown key `defaults.overlap_minuts` \(did you mean `overlap_minutes`\?\)"),
        (lambda r: r["tables"]["users"]["columns"].__setitem__("position", {"derrive": ["length"]}),
         r"columns.position: unknown treatment key `derrive` \(did you mean `derive`\?\)"),
        (lambda r: r["tables"]["users"]["columns"].__setitem__("position", {"derive": ["lenght"]}), r"columns.position: derive"),
        (lambda r: r["tables"]["users"]["columns"].__setitem__("id", "drop"), r"primary_key column id must be kept in clear"),
        (lambda r: r["tables"]["users"]["columns"].pop("updated_at"), r"watermark column updated_at has no treatment"),
        (lambda r: r["tables"]["users"].__setitem__("mode", "incremntal"), r"tables.users.mode"),
        (lambda r: r["tables"]["users"].__setitem__("columns", ["id"]), r"columns must map every source column"),
        (lambda r: r["tables"]["events"]["columns"]["next_old"]["json_keys_by"].__setitem__("column", "created_by_x"),
         r"json_keys_by.column created_by_x must be a column declared keep"),
    ],
)  # fmt: skip
def test_a_bad_key_or_treatment_fails_naming_the_file_the_key_and_a_close_match(tmp_path, raw, mutate, expected):
    data = copy.deepcopy(raw)
    mutate(data)
    with pytest.raises(ConfigError, match=expected) as failure:
        _load(tmp_path, data)
    assert str(tmp_path / "production_tables.yml") in str(failure.value)


def test_a_column_both_kept_and_dropped_in_code_is_refused():
    with pytest.raises(ValueError, match="column email is declared both keep and drop"):
        pc.TableSpec(name="t", primary_key=("id",), keep=("id", "email"), drop=("email",))


def test_several_watermark_columns_take_their_greatest(tmp_path, raw):
    spec = pc.load_config().tables["notes"]
    assert spec.watermark == ("updated_at", "deleted_at") and spec.watermark_fallback == "created_at"
    assert spec.watermark_sql("t") == 'coalesce(greatest(t."updated_at", t."deleted_at"), t."created_at")'


def test_a_column_declared_twice_is_refused_instead_of_the_last_one_winning(tmp_path):
    """YAML's safe_load keeps the last of two equal keys: `full_name: pseudonymise` then `full_name: keep`
    would copy the names in clear."""
    text = SHIPPED.read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("full_name: pseudonymise"))
    path = tmp_path / "production_tables.yml"
    path.write_text(text.replace(line, line + "\n" + line.replace("pseudonymise", "keep"), 1), encoding="utf-8")
    with pytest.raises(ConfigError) as failure:
        pc.load_config(path)
    assert str(path) in str(failure.value) and "`full_name` appears twice" in str(failure.value)
