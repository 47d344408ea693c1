"""The real LOVAC / Fichiers Fonciers layouts and the demo values drawn for them (zlv_dwh.demo.file_layouts)."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from zlv_dwh.demo import file_layouts as fl

ALL_LISTS = {
    **{f"LOVAC {year}": columns for year, columns in fl.LOVAC_COLUMNS.items()},
    **{f"LOVAC {year} (legacy)": columns for year, columns in fl.LOVAC_LEGACY_COLUMNS.items()},
    **{f"FF local {year}": columns for year, columns in fl.FF_LOCAL_COLUMNS_BY_MILLESIME.items()},
    **{f"FF owners {year}": columns for year, columns in fl.FF_OWNER_COLUMNS_BY_MILLESIME.items()},
    "FF_LOCAL_COLUMNS": fl.FF_LOCAL_COLUMNS,
    "FF_OWNER_COLUMNS": fl.FF_OWNER_COLUMNS,
}
LOVAC_LISTS = {**fl.LOVAC_COLUMNS, **fl.LOVAC_LEGACY_COLUMNS}


def _rows(millesime: int, count: int, seed: int = 11) -> list[dict[str, str]]:
    rng = random.Random(seed * 10_000 + millesime)
    return [fl.sample_row(LOVAC_LISTS[millesime], rng, millesime=millesime) for _ in range(count)]


@pytest.mark.parametrize("name", sorted(ALL_LISTS))
def test_column_lists_have_no_duplicates(name):
    columns = ALL_LISTS[name]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    assert not repeated, f"{name} repeats {repeated}"
    assert all(isinstance(c, str) and c == c.strip() and c for c in columns)


def test_at_least_three_recent_millesimes_of_90_columns_or_more():
    assert {2023, 2024, 2025} <= set(fl.LOVAC_COLUMNS)
    short = {year: len(columns) for year, columns in fl.LOVAC_COLUMNS.items() if len(columns) < 90}
    assert not short, f"millésimes under 90 columns: {short}"


def test_layouts_keep_the_facts_of_their_sources():
    # Counts and anchors read in the sources (see the module's comments).
    assert len(fl.LOVAC_LEGACY_COLUMNS[2022]) == 88
    assert len(fl.LOVAC_COLUMNS[2023]) == 111
    assert len(fl.LOVAC_COLUMNS[2024]) == 139
    assert len(fl.LOVAC_COLUMNS[2025]) == 154
    assert fl.LOVAC_COLUMNS[2023][:4] == ("ccodep", "annee", "dir", "sip")
    assert fl.LOVAC_COLUMNS[2023][-2:] == ("ffh_ccthp", "ffh_jdatat")
    assert fl.LOVAC_COLUMNS[2024][:10] == (
        "annee",
        "ff_millesime",
        "dir",
        "sip",
        "invariant",
        "ff_idlocal",
        "ff_idbat",
        "ff_idpar",
        "ff_idsec",
        "refcad",
    )
    assert fl.LOVAC_COLUMNS[2024][-10:] == tuple(
        f"{name}_6"
        for name in "ff_idprodroit ff_jdatnss ff_ddenom ff_dsiren ff_ccogrm ff_catpro2txt ff_catpro3 ff_ccodro ff_locprop cer_ff_adresse".split()
    )
    assert fl.LOVAC_COLUMNS[2025][4] == "cer_local_occ" and "cer_propriétaire" in fl.LOVAC_COLUMNS[2025]
    # The 2025 header, kept with its quirk: owner 4 has the name before the birth place, the others after it.
    cols = fl.LOVAC_COLUMNS[2025]
    for rank in (1, 2, 3, 5, 6):
        assert cols.index(f"ff_dldnss_{rank}") + 1 == cols.index(f"ff_ddenom_{rank}"), rank
    assert cols.index("ff_ddenom_4") + 1 == cols.index("ff_dldnss_4")
    assert cols[-12:] == tuple(
        f"{name}_6"
        for name in "ff_idprodroit ff_idpersonne ff_jdatnss ff_dldnss ff_ddenom ff_dsiren ff_ccogrm ff_catpro2txt ff_catpro3 ff_ccodro ff_locprop cer_ff_adresse".split()
    )
    for year, columns in LOVAC_LISTS.items():
        for rank in range(1, 7):
            assert f"ff_ddenom_{rank}" in columns and f"ff_jdatnss_{rank}" in columns, (year, rank)
    assert {"idpersonne", "ddenom", "jdatnss", "dldnss", "dlign3", "dlign6", "ccodro", "idprodroit"} <= set(fl.FF_OWNER_COLUMNS)
    assert {"idlocal", "idbat", "idpar", "idcom", "invar", "dteloc", "ccthp", "stoth", "npiece_p2", "jannath", "loghvac"} <= set(
        fl.FF_LOCAL_COLUMNS
    )
    assert len(fl.FF_LOCAL_COLUMNS) == 130 and len(fl.FF_OWNER_COLUMNS) == 63


@pytest.mark.parametrize("name", sorted(ALL_LISTS))
def test_personal_columns_of_each_list_are_a_subset_of_it(name):
    columns = ALL_LISTS[name]
    personal = fl.personal_columns(columns)
    assert personal, f"{name}: no personal column found"
    assert set(personal) <= set(columns)
    assert set(personal) == fl.PERSONAL_COLUMNS & set(columns)
    if name.startswith("LOVAC"):
        assert {"ff_ddenom_1", "ff_jdatnss_1", "gestre_ppre", "adresse1"} <= set(personal)
    if name.startswith("FF owners") or name == "FF_OWNER_COLUMNS":
        assert {"idpersonne", "ddenom", "jdatnss", "dldnss", "dlign4"} <= set(personal)


def test_every_personal_column_exists_somewhere_and_ids_of_places_are_not_personal():
    every = {c for columns in ALL_LISTS.values() for c in columns}
    assert fl.PERSONAL_COLUMNS <= every, sorted(fl.PERSONAL_COLUMNS - every)
    assert not {"ff_idlocal", "idlocal", "ccodep", "idcom", "annee", "debutvacance", "ff_ccthp"} & fl.PERSONAL_COLUMNS


@pytest.mark.parametrize("millesime", sorted(LOVAC_LISTS))
def test_every_lovac_value_encodes_in_windows_1252(millesime):
    bad = [(column, value) for row in _rows(millesime, 1500) for column, value in row.items() if not _encodes(value, "cp1252")]
    assert not bad, f"LOVAC {millesime}: not Windows-1252: {bad[:5]}"
    # The bare API: one column at a time, a fresh row each time.
    rng = random.Random(millesime)
    for column in LOVAC_LISTS[millesime]:
        for _ in range(20):
            value = fl.sample_value(column, rng, {"annee": str(millesime)})
            assert isinstance(value, str) and _encodes(value, "cp1252"), (column, value)


@pytest.mark.parametrize("millesime", sorted(LOVAC_LISTS))
def test_windows_1252_only_bytes_appear_at_least_once_per_1000_rows(millesime):
    rows = _rows(millesime, 3000, seed=5)
    for start in range(0, len(rows), 1000):
        block = rows[start : start + 1000]
        hits = sum(any(0x80 <= b <= 0x9F for value in row.values() for b in value.encode("cp1252")) for row in block)
        assert hits >= 1, f"LOVAC {millesime}, rows {start}-{start + 999}: no byte in 0x80-0x9F"


def test_renames_map_to_names_of_another_millesime():
    assert fl.LOVAC_RENAMES, "no rename recorded"
    for year, renames in fl.LOVAC_RENAMES.items():
        own = set(LOVAC_LISTS[year])
        others = {c for other, columns in LOVAC_LISTS.items() if other != year for c in columns}
        for old, canonical in renames.items():
            assert old in own, f"{year}: {old} is not a column of that millésime"
            assert canonical not in own, f"{year}: {canonical} is already there, {old} is no rename"
            assert canonical in others, f"{year}: {canonical} is in no other millésime"
    for year, renames in fl.FF_LOCAL_RENAMES.items():
        own = set(fl.FF_LOCAL_COLUMNS_BY_MILLESIME[year])
        for old, canonical in renames.items():
            assert old in own and canonical not in own and canonical in fl.FF_LOCAL_COLUMNS


def test_successors_point_from_old_columns_to_new_ones():
    for year, successors in fl.LOVAC_SUCCESSORS.items():
        for old, new in successors.items():
            assert old in LOVAC_LISTS[year] and new not in LOVAC_LISTS[year] and new in fl.LOVAC_COLUMNS[2025]


def test_duplicate_rates_per_millesime():
    assert set(range(2019, 2027)) <= set(fl.LOVAC_DUPLICATE_RATE)
    for year in range(2019, 2026):
        assert 0.0004 <= fl.LOVAC_DUPLICATE_RATE[year] <= 0.0025, (year, fl.LOVAC_DUPLICATE_RATE[year])
    assert fl.LOVAC_DUPLICATE_RATE[2026] == 0
    assert fl.LOVAC_DUPLICATE_RATE[2024] == pytest.approx(16_785 / 12_047_294)


def test_sources_name_each_list():
    expected = {f"LOVAC_COLUMNS[{year}]" for year in fl.LOVAC_COLUMNS} | {
        f"LOVAC_LEGACY_COLUMNS[{y}]" for y in fl.LOVAC_LEGACY_COLUMNS
    }
    expected |= {"LOVAC_RENAMES", "LOVAC_DUPLICATE_RATE", "FF_LOCAL_COLUMNS", "FF_OWNER_COLUMNS", "PERSONAL_COLUMNS"}
    assert expected <= set(fl.SOURCES)
    assert all(text.strip() for text in fl.SOURCES.values())


@pytest.mark.parametrize("millesime", sorted(fl.LOVAC_COLUMNS))
def test_a_lovac_row_is_consistent(millesime):
    fmt = fl.LOVAC_FORMATS[millesime]
    for row in _rows(millesime, 300, seed=3):
        assert row["annee"] == str(millesime) and row["ff_millesime"] == str(millesime - 1)
        assert row["ff_idlocal"].startswith(row["ccodep"]) and len(row["ff_idlocal"]) == 12
        insee = row["ccodep"] + row["commune"]
        assert len(insee) == 5 and row.get("idcom", insee) == insee and row.get("ff_idcom", insee) == insee
        assert row["ff_idpar"].startswith(insee) and row["ff_idbat"].startswith(row["ff_idpar"])
        assert row["invariant"] == "I" + row["ff_idlocal"][2:] + row["invariant"][-1]
        x, y = (float(row[name].replace(fmt["decimal"], ".")) for name in ("ff_x", "ff_y"))
        assert 100_000 < x < 1_250_000 and 6_000_000 < y < 7_150_000
        owners = int(float(row["ff_ndroit"]))
        assert 1 <= owners <= 6
        for rank in range(1, 7):
            assert bool(row[f"ff_ddenom_{rank}"]) == (rank <= owners), (rank, owners)
        if row["ff_jdatnss_1"]:
            datetime.strptime(row["ff_jdatnss_1"], fmt["ff_jdatnss"])
        kind = row.get("ff_catpro2txt_1", row.get("ff_catpro2txt"))
        if row["groupe"] == " ":
            assert kind == "PERSONNE PHYSIQUE" and row.get("ff_dsiren_1", "") == ""
        else:
            assert kind != "PERSONNE PHYSIQUE" and row["ff_jdatnss_1"] == "" and len(row.get("ff_dsiren_1", "123456789")) == 9
        assert int(row["debutvacance"]) < millesime


def test_legacy_formats_use_decimal_commas_and_integer_dates():
    for row in _rows(2023, 200, seed=2):
        assert "," in row["ff_x_4326"] and "." not in row["ff_x_4326"]
        assert row["ff_jdatat"].isdigit() and not row["ff_jdatat"].startswith("0")
    assert fl.lovac_format(2019) == fl.LOVAC_FORMATS[2022] and fl.lovac_format(2030) == fl.LOVAC_FORMATS[2026]


def test_ff_rows_link_owners_to_their_local():
    rng = random.Random(4)
    for _ in range(200):
        local = fl.sample_row(fl.FF_LOCAL_COLUMNS, rng)
        assert local["idlocal"][:2] == local["ccodep"] and local["idcom"] == local["ccodep"] + local["ccocom"]
        assert local["idprocpte"] == local["idcom"] + local["dnupro"] and local["geomloc"].startswith("POINT(")
        owner = fl.sample_row(fl.FF_OWNER_COLUMNS, rng)
        assert owner["idprodroit"] == owner["idprocpte"] + owner["dnulp"]
        assert owner["idpersonne"] == owner["ccodep"] + owner["dnuper"] and len(owner["idpersonne"]) == 8
        if owner["jdatnss"]:
            datetime.strptime(owner["jdatnss"], "%d/%m/%Y")
        assert "_ctx" not in owner and all(isinstance(v, str) for v in owner.values())


def test_lambert93_projection():
    x, y = fl.lambert93(46.5, 3.0)  # the projection's origin
    assert x == pytest.approx(700_000, abs=1e-6) and y == pytest.approx(6_600_000, abs=1e-6)
    x, y = fl.lambert93(48.8566, 2.3522)  # Paris
    assert x == pytest.approx(652_469, abs=5) and y == pytest.approx(6_862_035, abs=5)


def _encodes(value: str, encoding: str) -> bool:
    try:
        value.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True
