"""file_families.yml, pii.yml and indicators.yml: strictly parsed, so a typo or a broken rule stops
the DAG import with the file, the key path and the closest known key instead of being ignored."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from zlv_dwh import indicator_drift, pii
from zlv_dwh import ingest_files as fi
from zlv_dwh.config_schema import ConfigError
from zlv_dwh.settings import CONFIG_DIR

LOADERS: dict[str, Callable] = {
    "file_families.yml": fi.load_config,
    "pii.yml": pii.load_policy,
    "indicators.yml": indicator_drift.load_config,
}


def _mutated(tmp_path: Path, name: str, mutate: Callable[[dict], None]) -> Path:
    """A copy of the shipped file with one change, written where the loader is pointed at it."""
    data = yaml.safe_load((CONFIG_DIR / name).read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _config_error(tmp_path: Path, name: str, mutate: Callable[[dict], None]) -> str:
    path = _mutated(tmp_path, name, mutate)
    with pytest.raises(ConfigError) as caught:
        LOADERS[name](path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    return message


def _rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


# --- the shipped files ---


def test_the_shipped_file_families_parse_into_the_specs_the_ingestion_uses(monkeypatch):
    monkeypatch.delenv("ZLV_S3_BUCKET", raising=False)
    config = fi.load_config(CONFIG_DIR / "file_families.yml")
    assert (config.connection_id, config.bucket) == ("zlv_s3", "zlv-lake")
    assert {name: [ds.name for ds in family.datasets] for name, family in config.families.items()} == {
        "locomvac": ["lovac"],
        "ff": ["ff_housing", "ff_owners"],
    }
    lovac = config.families["locomvac"].dataset("lovac")
    assert (lovac.delimiter, lovac.encoding, lovac.compression, lovac.quote) == (";", "windows-1252", "none", '"')
    assert (lovac.on_duplicate_key, lovac.duplicate_order) == ("keep_first", ("debutvacance desc", "vlcad desc"))
    assert lovac.max_malformed_share == 0.001 and lovac.on_contract_error == "fail"  # from the file's defaults
    assert lovac.pseudonymise == ("ff_idpersonne_1", "ff_idpersonne_2") and len(lovac.columns) == 26


def test_the_shipped_pii_policy_parses_with_its_patterns_and_public_views():
    policy = pii.load_policy(CONFIG_DIR / "pii.yml")
    assert policy.classes == ("none", "pseudonymised", "aggregated", "personal")
    assert policy.allowed_in_marts == {"none", "pseudonymised", "aggregated"}
    assert policy.looks_personal("owner_email") and policy.looks_personal("housing_count") is None
    assert set(policy.content_scan["patterns"]) == {"email", "french_phone", "iban", "nir", "birth_date_mention"}
    assert policy.content_scan["date_of_birth"]["name_like_columns"].startswith("(^|_)(name")
    assert policy.public_views["schema"] == "public" and policy.public_views["exclude"] == ["housing_geo", "monthly_statistics"]
    assert policy.public_views["small_cells"]["marts"]["vacancy_by_territory"] == {"base_count": "dwelling_count"}
    assert policy.public_views["small_cells"]["rounding_base"] == 5


def test_the_shipped_indicators_parse():
    config = indicator_drift.load_config(CONFIG_DIR / "indicators.yml")
    assert [i.name for i in config.indicators] == [
        "vacant_housing_national",
        "vacant_housing_by_departement",
        "campaigns_sent",
        "active_establishments",
        "vacant_over_two_years_public_national",
    ]
    assert [i.tolerance for i in config.indicators] == [0.02, 0.05, 0.25, 0.25, 0.02]
    assert config.approval_variable == "zlv_approved_drift_run_ids"


# --- a misspelled key names the file, the key path and the close match ---


def _misspell_dataset_columns(data):
    _rename(data["families"]["locomvac"]["datasets"]["lovac"], "columns", "colums")


def _misspell_small_cells_threshold(data):
    _rename(data["public_views"]["small_cells"], "threshold", "treshold")


def _misspell_indicator_tolerance(data):
    _rename(data["indicators"][1], "tolerance", "tolerence")


@pytest.mark.parametrize(
    ("name", "mutate", "key_path", "close"),
    [
        ("file_families.yml", _misspell_dataset_columns, "families.locomvac.datasets.lovac.colums", "columns"),
        ("pii.yml", _misspell_small_cells_threshold, "public_views.small_cells.treshold", "threshold"),
        ("indicators.yml", _misspell_indicator_tolerance, "indicators.1.tolerence", "tolerance"),
    ],
    ids=["file_families", "pii", "indicators"],
)
def test_a_misspelled_key_is_named_with_its_close_match(tmp_path, name, mutate, key_path, close):
    message = _config_error(tmp_path, name, mutate)
    assert f"unknown key `{key_path}` (did you mean `{close}`?)" in message


# --- a wrong type ---


def _share_as_text(data):
    data["defaults"]["max_malformed_share"] = "a few"


def _patterns_as_one_string(data):
    data["personal_name_patterns"] = "(^|_)email($|_)"


def _tolerance_as_text(data):
    data["indicators"][0]["tolerance"] = "five percent"


@pytest.mark.parametrize(
    ("name", "mutate", "expected"),
    [
        ("file_families.yml", _share_as_text, "`defaults.max_malformed_share`: Input should be a valid number"),
        ("pii.yml", _patterns_as_one_string, "`personal_name_patterns`: Input should be a valid list"),
        ("indicators.yml", _tolerance_as_text, "`indicators.0.tolerance`: Input should be a valid number"),
    ],
    ids=["file_families", "pii", "indicators"],
)
def test_a_wrong_type_is_named(tmp_path, name, mutate, expected):
    assert expected in _config_error(tmp_path, name, mutate)


# --- the rules of each file ---


def _lovac(data) -> dict:
    return data["families"]["locomvac"]["datasets"]["lovac"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: _lovac(d)["drop"].append("adress1"),
            "families.locomvac.datasets.lovac`: Value error, drop: column adress1 is not in columns (did you mean `adresse1`?)",
        ),
        (
            lambda d: _lovac(d)["pseudonymise"].append("ff_idpersonne_1"),
            "`families.locomvac.datasets.lovac.pseudonymise`: Value error, column(s) listed twice: ff_idpersonne_1",
        ),
        (
            lambda d: _lovac(d)["drop"].append("ff_idpersonne_1"),
            "column(s) ff_idpersonne_1 both in drop and pseudonymise",
        ),
        (
            lambda d: _lovac(d).update(key_pattern="lake/cerema/lovac/{millesim}/raw.csv"),
            "`families.locomvac.datasets.lovac.key_pattern`: Value error, placeholder {millesim} is not one of "
            "{millesime}, {departement} (did you mean `millesime`?)",
        ),
        (
            lambda d: _lovac(d).update(format="parquet"),
            "delimiter, encoding: CSV options, not read for a parquet dataset",
        ),
        (
            lambda d: _lovac(d).update(primary_key=[]),
            "`families.locomvac.datasets.lovac.primary_key`: List should have at least 1 item",
        ),
    ],
    ids=[
        "undeclared-column",
        "listed-twice",
        "dropped-and-pseudonymised",
        "unknown-placeholder",
        "csv-options-on-parquet",
        "no-key",
    ],
)
def test_file_family_rules(tmp_path, mutate, expected):
    assert expected in _config_error(tmp_path, "file_families.yml", mutate)


def test_a_tab_delimiter_is_kept_although_strings_are_stripped(tmp_path):
    path = _mutated(tmp_path, "file_families.yml", lambda d: _lovac(d).update(delimiter="\t"))
    assert fi.load_config(path).families["locomvac"].dataset("lovac").delimiter == "\t"


def _break_name_pattern(data):
    data["personal_name_patterns"][2] = "(^|_)(e_?mail($|_)"


def _break_content_pattern(data):
    data["content_scan"]["patterns"]["iban"] = "[A-Z]{2}( ?[A-Z0-9]{4}"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            _break_name_pattern,
            r"`personal_name_patterns\.2`: Value error, pattern '\(\^\|_\)\(e_\?mail\(\$\|_\)' does not compile",
        ),
        (
            _break_content_pattern,
            r"`content_scan\.patterns\.iban`: Value error, pattern '\[A-Z\]\{2\}\( \?\[A-Z0-9\]\{4\}' does not compile: missing \)",
        ),
        (
            lambda d: d["allowed_in_marts"].append("agregated"),
            r"allowed_in_marts: class agregated is not in classes \(did you mean `aggregated`\?\)",
        ),
        (lambda d: d["allowed_in_marts"].append("personal"), "personal data is never allowed in a mart"),
        (lambda d: d["classes"].pop("pseudonymised"), "classes: pseudonymised must be defined"),
        (
            lambda d: _rename(d["content_scan"]["patterns"], "french_phone", "phone_fr"),
            r"`content_scan\.patterns`: Value error, pattern french_phone is required",
        ),
        (
            lambda d: d["public_views"]["exclude"].append("vacancy_exit_delays"),
            "vacancy_exit_delays both excluded and given a small-cell rule",
        ),
        (
            lambda d: d["content_scan"]["known_personal_hashes"].append("owners.full_name"),
            r"`content_scan\.known_personal_hashes\.3`: Value error, 'owners\.full_name' is not schema\.table\.column",
        ),
    ],
    ids=[
        "name-pattern",
        "content-pattern",
        "unknown-class",
        "personal-allowed",
        "class-missing",
        "phone-pattern-missing",
        "excluded-with-rule",
        "hash-ref",
    ],
)
def test_pii_policy_rules(tmp_path, mutate, expected):
    assert re.search(expected, _config_error(tmp_path, "pii.yml", mutate))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["indicators"].append({**d["indicators"][2], "tolerance": 0.5}),
            "indicator name(s) used twice: campaigns_sent",
        ),
        (
            lambda d: d["indicators"][2].update(
                sql="select 'all' as key, sum(campaigns_sent_count) as value from campaign_funnel"
            ),
            "`indicators.2.sql`: Value error, must read its tables from {marts}",
        ),
        (
            lambda d: d["indicators"][2].update(sql="select '{all}' as key, 1 as value from {marts}.campaign_funnel"),
            "`indicators.2.sql`: Value error, braces other than {marts} must be doubled",
        ),
        (
            lambda d: d["indicators"][1].update(tolerance=5),
            "`indicators.1.tolerance`: Value error, a relative change between 0 and 1 (0.05 for 5%), got 5",
        ),
    ],
    ids=["name-twice", "no-marts-placeholder", "stray-braces", "percent-for-fraction"],
)
def test_indicator_rules(tmp_path, mutate, expected):
    assert expected in _config_error(tmp_path, "indicators.yml", mutate)
