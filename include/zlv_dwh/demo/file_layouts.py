"""How Cerema really lays out LOVAC and Fichiers Fonciers (FF) files, so the demo writes them "as delivered".

Facts only (column names, order, renames, formats, rates), gathered from ZLV's public repository
(MTES-MCT/zero-logement-vacant, mirrored at /work/.mirror/MTES-MCT+zero-logement-vacant/repo) and from one
third-party ETL that documents a real LOVAC header (kadataApps/urbaflow). Each constant says where it comes
from; `SOURCES` repeats it per list. Where a source gives a set but no order, the comment says so and the
order used is the one the sources list the columns in. The value generator (`sample_value`) is our own code.

Shapes worth knowing before reading the lists:

- LOVAC grew from 88 columns (2022) to ~150-160 (2025-2026); owners come as 6 repeated groups
  (`ff_ddenom_1` ... `ff_ddenom_6`), and what a group holds changed between millésimes.
- ZLV reads every millésime with `SELECT *` / `read_csv(auto_detect)`, so for 2024 and 2026 the column
  order is not written anywhere in ZLV's code: those two lists are reconstructed (see their comments).
- The 2025 header names a column `cer_propriétaire`: the header itself is not ASCII.
"""

from __future__ import annotations

import math
import random
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

# Where the facts come from. ZLV paths are relative to the repository root; a commit is given when the
# file is gone from HEAD or changed since.
ZLV_REPO = "MTES-MCT/zero-logement-vacant"
_ZLV_LOVAC_2022_DDL = "database/scripts/002-load-data.sql @775490fee (2022-09-22, CREATE TABLE _extract_zlv_ + positional \\COPY)"
_ZLV_LOVAC_2023_DDL = (
    "server/src/infra/database/scripts/009-load-lovac-2023.sql @68067aae2 (first written 2023-05 as "
    "database/scripts/009-load-lovac-2023.sql; CREATE TABLE _extract_zlv_ + positional \\COPY ... DELIMITER ';' CSV HEADER)"
)
_ZLV_LOVAC_2024_NOTEBOOK = (
    "analytics/exploration/lovac/(Explore) Lovac 2024.ipynb @cdc830393 (lovac2024ff23.csv: 139 columns, "
    "wc -l 12047294, read with sep=';', '\\N' values, first 10 / last 10 column names printed); "
    "analytics/exploration/Explore Lovac.ipynb @cdc830393 (same file, mixed-dtype column positions)"
)
_ZLV_LOVAC_2024_STG = "analytics/dbt/models/staging/zlovac/stg_zlovac.sql @5cc17fe62 (reads raw_lovac_2024)"
_ZLV_LOVAC_2025_STG = (
    "analytics/dbt/models/staging/zlovac/stg_zlovac.sql @9c2c47e12 (reads cerema_lovac_2025_raw); "
    "analytics/dbt/models/intermediate/zlovac/int_zlovac.sql @89f7f50a4 (reads int_lovac_fil_2025)"
)
_ZLV_LOVAC_2026 = (
    "analytics/dbt/models/intermediate/zlovac/int_zlovac.sql, analytics/dbt/models/staging/zlovac/stg_zlovac.sql, "
    "analytics/dbt/macros/lovac/handle_lovac_different_years.sql, analytics/dbt/macros/lovac/deduplicate_lovac.sql, "
    "analytics/dbt/models/intermediate/zlovac/schemas.yml (HEAD e2cca5479)"
)
_URBAFLOW_LOVAC_2025 = (
    "github kadataApps/urbaflow: urbaflow/urbaflow/flows/lovac/import_lovac_fil.py (docstring 'Example content' of "
    "Cerema's lovac_fil.csv: pipe-delimited header, annee=2025, ff_millesime=2024; cites doc-datafoncier.cerema.fr/doc/lovac/)"
)
_ZLV_DAGSTER_CONFIG = "analytics/dagster/src/assets/dwh/ingest/queries/config/cerema.py (LOVAC_TYPE_OVERRIDES, read_options)"
_ZLV_DUPLICATES = (
    "docs/decisions/20260805142324-millesime-inclus-provenance-d-import-et-non-presence-lovac.md (table 'Taux de doublon')"
)
_ZLV_FF_2024 = (
    "server/src/infra/database/migrations/20251111085312_df-housing-nat-2024.ts (df_housing_nat_2024 = pb0010_local 2024), "
    "server/src/infra/database/migrations/20251111085259_df-owners-nat-2024.ts (df_owners_nat_2024 = proprietaire_droit 2024)"
)
_ZLV_FF_2023 = "server/src/infra/database/migrations/086-datafoncier.ts (df_housing_nat, df_owners_nat: FF 2023)"


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _owner_groups(fields: Iterable[str], ranks: Iterable[int] = range(1, 7)) -> tuple[str, ...]:
    """Owner groups as LOVAC repeats them: every field of owner 1, then every field of owner 2, ..."""
    fields = tuple(fields)
    return tuple(f"{name}_{rank}" for rank in ranks for name in fields)


# ---------------------------------------------------------------------------------------------------------
# LOVAC, one tuple per millésime, in file order
# ---------------------------------------------------------------------------------------------------------

# LOVAC 2022 (loaded by ZLV in September 2022), 88 columns, order certain: ZLV created this table and
# loaded the CSV into it with a positional \COPY ... CSV HEADER (_ZLV_LOVAC_2022_DDL). Kept apart from
# LOVAC_COLUMNS because it has fewer than 90 columns. The owners come as 6 groups of birth date, name and
# the 4 FF address lines; the owner category and location (ff_catpro2txt, ff_catpro3, ff_locprop) are
# given once per dwelling, after the groups.
_LOVAC_2022 = (
    _names(
        "ccodep annee dir sip commune intercommunalite gestre_ppre proprietaire adresse1 adresse2 adresse3 adresse4"
        " groupe nature loc_voie loc_num invariant refcad batloc vlcad vl_revpro aff anmutation libvoie libcom"
        " debutvacance anrefthlv txtlv potentiel_tlv_thlv ff_idlocal ff_millesime ff_idsec ff_idbat ff_ctpdl ff_stoth"
        " ff_slocal ff_npiece_p2 ff_jannath ff_jdatat ff_ndroit ff_dnbbai ff_dnbdou ff_dnbwc ff_dcapec2 ff_ccthp"
    )
    + _owner_groups(_names("ff_jdatnss ff_ddenom ff_dlign3 ff_dlign4 ff_dlign5 ff_dlign6"))
    + _names("ff_catpro2txt ff_catpro3 ff_locprop ff_x ff_y ff_x_4326 ff_y_4326")
)

# LOVAC 2023 (loaded by ZLV in May 2023), 111 columns, order certain (positional \COPY, _ZLV_LOVAC_2023_DDL):
# 2022's 88 columns, then the plot id, the FF rental value, BAN geocoding, the latest DVF sale and the
# occupancy / transfer-date histories. Note: the copy of LOVAC 2023 that ZLV's warehouse reads later
# (lake/cerema/lovac/2023/raw.csv) is a re-export in the 2024 format: the warehouse forces the types of
# ff_jdatnss_1..6 and ff_ccogrm_1..6 on it (_ZLV_DAGSTER_CONFIG; DuckDB refuses a type for a column the file
# does not have) and reads ff_dcntpa from it (handle_lovac_different_years(new_version=True)).
LOVAC_2023_COLUMNS = _LOVAC_2022 + _names(
    "ff_idpar ff_dvltrt ban_result_score ban_result_label ban_postcode ban_result_id ban_latitude ban_longitude"
    " distance_ban_ff dvf_nblocmut dvf_nblog dvf_valeurfonc dvf_datemut dvf_idmutation dvf_libnatmut dvf_vefa"
    " dvf_codtypbien dvf_libtypbien dvf_filtre dvf_codtypprov dvf_codtypproa ffh_ccthp ffh_jdatat"
)

# LOVAC 2025, 154 columns, order certain: the header of Cerema's lovac_fil.csv quoted in _URBAFLOW_LOVAC_2025
# (annee 2025, ff_millesime 2024). Kept exactly, quirks included: owner 4 puts ff_ddenom before
# ff_dldnss where owners 1-3 and 5-6 put it after, and `cer_propriétaire` has an accent. Every column ZLV's
# 2025 models read is in it except `idcom`: ZLV's own 2025 copy names the INSEE code `idcom`
# (_ZLV_LOVAC_2025_STG), this export `ff_idcom` (see LOVAC_RENAMES).
_LOVAC_2025_HEAD = _names(
    "annee ff_millesime dir sip cer_local_occ invariant ff_idlocal ff_idbat ff_idpar ff_idsec refcad loc_num loc_voie"
    " libvoie batloc rnb_id rnb_id_score libcom commune ff_idcom cog_2025 intercommunalite ccodep ban_result_score"
    " ban_result_label ban_result_postcode ban_result_id ban_latitude ban_longitude distance_ban_ff ff_x ff_y"
    " ff_x_4326 ff_y_4326 nature ff_ctpdl ff_stoth ff_slocal ff_npiece_p2 ff_jannath ff_dnbbai ff_dnbdou ff_dnbwc"
    " ff_dcapec2 ff_ndroit ff_dcntpa vlcad vl_revpro ff_dvltrt aff anrefthlv txtlv potentiel_tlv_thlv ff_ccthp"
    " ffh_ccthp debutvacance cer_h1767 anmutation ff_jdatat ffh_jdatat dvf_datemut dvf_nblocmut dvf_nblog"
    " dvf_valeurfonc dvf_idmutation dvf_libnatmut dvf_vefa dvf_codtypbien dvf_libtypbien dvf_filtre dvf_codtypprov"
    " dvf_codtypproa gestre_ppre proprietaire cer_propriétaire cer_gestionnaire adresse1 adresse2 adresse3 adresse4"
    " groupe ff_idprocpte"
)
_LOVAC_2025_OWNER = _names(
    "ff_idprodroit ff_idpersonne ff_jdatnss ff_dldnss ff_ddenom ff_dsiren ff_ccogrm ff_catpro2txt ff_catpro3"
    " ff_ccodro ff_locprop cer_ff_adresse"
)
_LOVAC_2025_OWNER_4 = _names(
    "ff_idprodroit ff_idpersonne ff_jdatnss ff_ddenom ff_dldnss ff_dsiren ff_ccogrm ff_catpro2txt ff_catpro3"
    " ff_ccodro ff_locprop cer_ff_adresse"
)
LOVAC_2025_COLUMNS = (
    _LOVAC_2025_HEAD
    + _owner_groups(_LOVAC_2025_OWNER, range(1, 4))
    + _owner_groups(_LOVAC_2025_OWNER_4, (4,))
    + _owner_groups(_LOVAC_2025_OWNER, (5, 6))
)


def _derive(
    base: tuple[str, ...],
    *,
    drop: Iterable[str] = (),
    rename: dict[str, str] | None = None,
    insert_after: dict[str, tuple[str, ...]] | None = None,
) -> tuple[str, ...]:
    drop, rename, insert_after = set(drop), rename or {}, insert_after or {}
    out: list[str] = []
    for name in base:
        if name in drop:
            continue
        out.append(rename.get(name, name))
        out.extend(insert_after.get(name, ()))
    return tuple(out)


# LOVAC 2024 (lovac2024ff23.csv: LOVAC 2024 crossed with FF 2023), 139 columns. The order is RECONSTRUCTED:
# - certain: 139 columns; the first ten (annee ff_millesime dir sip invariant ff_idlocal ff_idbat ff_idpar
#   ff_idsec refcad) and the 6 owner groups of 10 columns at the end (ff_idprodroit ff_jdatnss ff_ddenom
#   ff_dsiren ff_ccogrm ff_catpro2txt ff_catpro3 ff_ccodro ff_locprop cer_ff_adresse, no ff_idpersonne nor
#   ff_dldnss), both printed by _ZLV_LOVAC_2024_NOTEBOOK; ZLV's 2024 staging reads ban_postcode, ff_idcom and
#   ff_geomloc from it and no idpersonne (_ZLV_LOVAC_2024_STG);
# - inferred: the middle is 2025's order without the columns 2025 added (cer_local_occ, cog_2025,
#   cer_propriétaire, cer_gestionnaire), ban_postcode for ban_result_postcode and ff_geomloc after ff_y_4326.
#   That gives exactly 139 columns, and the 22 positions pandas reported as mixed-type in that file
#   (2,5,7-11,17,18,32,49,50,56,57,62,63,65-68,70,72, then the owner groups) all fall on columns that mix
#   numbers with codes, dates or blanks (dir, ff_idlocal, commune, ff_idcom, ff_geomloc, anrefthlv, txtlv,
#   anmutation, ff_jdatat, the DVF figures, proprietaire, ff_ccogrm_1...).
LOVAC_2024_COLUMNS = _derive(
    _LOVAC_2025_HEAD,
    drop=("cer_local_occ", "cog_2025", "cer_propriétaire", "cer_gestionnaire"),
    rename={"ban_result_postcode": "ban_postcode"},
    insert_after={"ff_y_4326": ("ff_geomloc",)},
) + _owner_groups(
    _names("ff_idprodroit ff_jdatnss ff_ddenom ff_dsiren ff_ccogrm ff_catpro2txt ff_catpro3 ff_ccodro ff_locprop cer_ff_adresse")
)

# LOVAC 2026. The column SET is what ZLV's 2026 models read (_ZLV_LOVAC_2026): 2025's columns with `idcom`
# for the INSEE code, RNB enrichment (`ff_rnb_emp`, a BIGINT count, and `geomrnb`, a hex-WKB point), the FF
# and BAN points (`ff_geomloc`, `ban_geom`, hex WKB) and a usage name per owner (`cer_nom_usage_1..6`,
# tokens joined by '_'). The ORDER is not observable (ZLV reads 2026 by name): this list keeps 2025's
# order and puts each new column next to its family. No COG column is listed: nothing in ZLV reads one for
# 2026 (geo_code comes from idcom). cer_local_occ is kept as in 2025 (not read by ZLV, not known to be gone).
LOVAC_2026_COLUMNS = _derive(
    _LOVAC_2025_HEAD,
    drop=("cog_2025",),
    rename={"ff_idcom": "idcom"},
    insert_after={
        "rnb_id_score": ("ff_rnb_emp", "geomrnb"),
        "ban_longitude": ("ban_geom",),
        "ff_y_4326": ("ff_geomloc",),
    },
) + _derive(
    LOVAC_2025_COLUMNS[len(_LOVAC_2025_HEAD) :],
    insert_after={f"ff_ddenom_{rank}": (f"cer_nom_usage_{rank}",) for rank in range(1, 7)},
)

LOVAC_COLUMNS: dict[int, tuple[str, ...]] = {
    2023: LOVAC_2023_COLUMNS,
    2024: LOVAC_2024_COLUMNS,
    2025: LOVAC_2025_COLUMNS,
    2026: LOVAC_2026_COLUMNS,
}
# Older layout, fewer than 90 columns (ZLV never kept a 2019-2021 column list: its warehouse reads those by name).
LOVAC_LEGACY_COLUMNS: dict[int, tuple[str, ...]] = {2022: _LOVAC_2022}

# Real renames, millésime -> {name in that millésime: canonical name (the latest one)}.
LOVAC_RENAMES: dict[int, dict[str, str]] = {
    2023: {
        # 2023: ban_postcode (_ZLV_LOVAC_2023_DDL); 2025: ban_result_postcode (_URBAFLOW_LOVAC_2025) and ZLV reads
        # ban_result_postcode from 2026 (analytics/dbt/models/intermediate/zlovac/int_zlovac.sql: "ban_result_postcode as ban_postcode").
        "ban_postcode": "ban_result_postcode",
    },
    2024: {
        # analytics/dbt/models/staging/zlovac/stg_zlovac.sql @5cc17fe62 reads ban_postcode from raw_lovac_2024.
        "ban_postcode": "ban_result_postcode",
        # Same file reads ff_idcom from 2024; ZLV reads idcom from 2025 (stg_zlovac.sql @9c2c47e12) and 2026
        # (int_zlovac.sql HEAD: "idcom as geo_code").
        "ff_idcom": "idcom",
    },
    2025: {
        # Cerema's 2025 FIL export names it ff_idcom (_URBAFLOW_LOVAC_2025) while ZLV's 2025 copy already says
        # idcom (analytics/dbt/models/intermediate/zlovac/int_zlovac.sql @89f7f50a4).
        "ff_idcom": "idcom",
    },
}

# Not renames but structural changes: a per-dwelling column replaced by a per-owner group. The value of
# the old column is closest to the new group's first member. 2022-2023: ff_catpro2txt, ff_catpro3,
# ff_locprop once per dwelling (_ZLV_LOVAC_2023_DDL); 2024 on: ff_catpro2txt_1..6 etc. (_ZLV_LOVAC_2024_NOTEBOOK,
# ZLV's old loader used ff_catpro2txt as the main owner's kind: server/src/infra/database/procedures/001-load-housing.sql).
# The 4 FF address lines per owner (ff_dlign3_N..ff_dlign6_N) became one line, cer_ff_adresse_N.
LOVAC_SUCCESSORS: dict[int, dict[str, str]] = {
    year: {"ff_catpro2txt": "ff_catpro2txt_1", "ff_catpro3": "ff_catpro3_1", "ff_locprop": "ff_locprop_1"}
    | {f"ff_dlign{line}_{rank}": f"cer_ff_adresse_{rank}" for rank in range(1, 7) for line in range(3, 7)}
    for year in (2022, 2023)
}

# Lines, distinct ff_idlocal and their ratio per millésime (full national files), from _ZLV_DUPLICATES.
LOVAC_LINE_COUNTS: dict[int, int] = {
    2019: 7_835_698,
    2020: 8_030_465,
    2021: 8_216_462,
    2022: 10_225_516,
    2023: 10_794_422,
    2024: 12_047_294,
    2025: 7_124_015,
    2026: 8_600_273,
}
LOVAC_DISTINCT_LOCAL_IDS: dict[int, int] = {
    2019: 7_816_210,
    2020: 8_010_468,
    2021: 8_202_258,
    2022: 10_211_769,
    2023: 10_780_341,
    2024: 12_030_509,
    2025: 7_121_120,
    2026: 8_600_273,
}
# Share of lines that repeat an ff_idlocal already seen: 0.249% (2019) ... 0.041% (2025), 0 in 2026.
# In 2024 the repeated lines form 8,917 groups; vacancy_start_year differs inside 61% of them (same source).
LOVAC_DUPLICATE_RATE: dict[int, float] = {
    year: (LOVAC_LINE_COUNTS[year] - LOVAC_DISTINCT_LOCAL_IDS[year]) / LOVAC_LINE_COUNTS[year] for year in LOVAC_LINE_COUNTS
}

# How the values are written, per millésime. Dates are strftime patterns; "int:%d%m%Y" is that pattern
# read as a number (leading zero lost: 4 March 1972 -> 4031972).
# - 2022/2023: ';' and decimal commas (ZLV loads with DELIMITER ';' and replaces ',' by '.' in ff_x_4326,
#   ff_y_4326, ff_stoth: _ZLV_LOVAC_2023_DDL); ff_jdatat an INTEGER there; birth dates dd/mm/yyyy (ZLV filters
#   '00/%/%' and '%/%/18%'); anmutation also comes as 'yyyy' or 'mm/yyyy' and once as 31/02/1999 (ZLV's fixes).
# - 2024: ';' (notebook sep=';'), NULLs written \N, birth dates dd/mm/yyyy (value seen in the notebook).
# - 2025: '|' and ISO dates everywhere (_URBAFLOW_LOVAC_2025 sample line), counts written as floats ("1.0")
#   where a column has blanks (pandas export).
# - 2026: not observable for the delimiter (ZLV: auto_detect, quote and escape '"'); ff_jdatnss dd/mm/yyyy
#   (handle_lovac_different_years.sql HEAD parses '%d/%m/%Y'), ff_jdatat ddmmyyyy (int_zlovac.sql parses
#   '%d%m%Y'), ffh_jdatat comma-separated ISO dates (same file).
# All: Windows-1252 bytes (/work/shared/DOMAIN.md), anmutation read with dbt var dateFormat '%d/%m/%Y'
# (analytics/dbt/dbt_project.yml), dvf_datemut ISO.
LOVAC_FORMATS: dict[int, dict[str, str]] = {
    2022: {
        "delimiter": ";",
        "decimal": ",",
        "null": "",
        "encoding": "windows-1252",
        "ff_jdatnss": "%d/%m/%Y",
        "ff_jdatat": "int:%d%m%Y",
        "anmutation": "%d/%m/%Y",
        "dvf_datemut": "%Y-%m-%d",
    },
    2024: {
        "delimiter": ";",
        "decimal": ".",
        "null": "\\N",
        "encoding": "windows-1252",
        "ff_jdatnss": "%d/%m/%Y",
        "ff_jdatat": "%d%m%Y",
        "anmutation": "%d/%m/%Y",
        "dvf_datemut": "%Y-%m-%d",
    },
    2025: {
        "delimiter": "|",
        "decimal": ".",
        "null": "",
        "encoding": "windows-1252",
        "ff_jdatnss": "%Y-%m-%d",
        "ff_jdatat": "%Y-%m-%d",
        "anmutation": "%Y-%m-%d",
        "dvf_datemut": "%Y-%m-%d",
    },
    2026: {
        "delimiter": "|",  # assumed like 2025: not observable
        "decimal": ".",
        "null": "",
        "encoding": "windows-1252",
        "ff_jdatnss": "%d/%m/%Y",
        "ff_jdatat": "%d%m%Y",
        "anmutation": "%d/%m/%Y",
        "dvf_datemut": "%Y-%m-%d",
    },
}
LOVAC_FORMATS[2023] = dict(LOVAC_FORMATS[2022])
# 2025 only: columns written as floats because they have blanks (sample line: ff_dnbbai "1.0", ff_locprop_2 "2.0").
LOVAC_FLOAT_COLUMNS: dict[int, frozenset[str]] = {
    2025: frozenset(
        _names("ff_dnbbai ff_dnbdou ff_dnbwc dvf_nblocmut dvf_nblog dvf_valeurfonc dvf_idmutation dvf_codtypbien dvf_filtre")
        + tuple(f"ff_locprop_{rank}" for rank in range(2, 7))
    )
}


def lovac_format(millesime: int) -> dict[str, str]:
    """The formats of a millésime, or of the closest known one."""
    known = min(LOVAC_FORMATS, key=lambda year: (abs(year - millesime), -year))
    return LOVAC_FORMATS[known]


# ---------------------------------------------------------------------------------------------------------
# Fichiers Fonciers: pb0010_local (one line per local) and proprietaire_droit (one line per owner's right)
# ---------------------------------------------------------------------------------------------------------

# FF 2024 pb0010_local, 130 columns, in the order of ZLV's national copy df_housing_nat_2024 (_ZLV_FF_2024);
# ZLV's warehouse reads the same names from Cerema's 2024 housing extract
# (analytics/dbt/models/staging/ff/stg_ff_housing_2024.sql: idlocal, invar, idprocpte, dteloctxt, ccthp...).
FF_LOCAL_COLUMNS: tuple[str, ...] = _names(
    "idlocal idbat idpar idtup idsec idvoie idprocpte idcom idcomtxt ccodep ccodir ccocom invar ccopre ccosec dnupla"
    " dnubat descc dniv dpor ccoriv ccovoi dnvoiri dindic ccocif dvoilib cleinvar assieft ccpper codique gpdl ctpdl"
    " dnupro jdatat jdatatv jdatatan dnufnl ccoeva ccoevatxt dteloc dteloctxt typeloc logh loghmais loghappt gtauom"
    " dcomrd ccoplc ccoplctxt cconlc cconlctxt dvltrt cc48lc dloy48a top48a dnatlc ccthp rppo_rs typeact loghvac"
    " loghvac2a loghvac5a loghvacdeb cchpr jannat dnbniv nbetagemax nbnivssol hlmsem loghlls postel dnatcg jdatcgl"
    " fburx gimtom cbtabt jdbabt jrtabt cconac cconactxt toprev ccoifp jannath janbilmin npevph stoth stotdsueic"
    " npevd stotd npevp sprincp ssecp ssecncp sparkp sparkncp npevtot slocal npiece_soc npiece_ff npiece_i npiece_p2"
    " nbannexe nbgarpark nbagrement nbterrasse nbpiscine ndroit ndroitindi ndroitpro ndroitges catpro2 catpro2txt"
    " catpro3 catpropro2 catproges2 locprop locproptxt geomloc source_geo vecteur ban_id ban_type ban_score ban_cp"
    " ban_geom dis_ban_ff rnb_id rnb_id_score geomrnb idpk"
)
# FF 2024 proprietaire_droit, 63 columns, order of df_owners_nat_2024 (_ZLV_FF_2024); ZLV's warehouse reads
# these names from Cerema's owners.csv (analytics/dbt/models/staging/ff/stg_ff_owners_2025.sql).
FF_OWNER_COLUMNS: tuple[str, ...] = _names(
    "idprodroit idprocpte idpersonne idvoie idcom idcomtxt ccodep ccodir ccocom dnupro dnulp ccocif dnuper ccodro"
    " ccodrotxt typedroit ccodem ccodemtxt gdesip gtoper ccoqua dnatpr dnatprtxt ccogrm ccogrmtxt dsglpm dforme ddenom"
    " gtyp3 gtyp4 gtyp5 gtyp6 dlign3 dlign4 dlign5 dlign6 ccopay ccodep1a2 ccodira ccocomadr ccovoi ccoriv dnvoiri"
    " dindic ccopos dqualp dnomlp dprnlp jdatnss dldnss dsiren topja datja dformjur dnomus dprnus locprop locproptxt"
    " catpro2 catpro2txt catpro3 catpro3txt idpk"
)
# FF 2023, as ZLV loaded it (_ZLV_FF_2023): 2024's order without assieft, codique, typeloc, rnb_id,
# rnb_id_score, geomrnb, with proba_rprs for rppo_rs and an EPCI (code_epci, lib_epci) at the end of the
# local table and at the start of the owner table.
FF_LOCAL_COLUMNS_BY_MILLESIME: dict[int, tuple[str, ...]] = {
    2023: _derive(
        FF_LOCAL_COLUMNS,
        drop=("assieft", "codique", "typeloc", "rnb_id", "rnb_id_score", "geomrnb", "idpk"),
        rename={"rppo_rs": "proba_rprs"},
        insert_after={"dis_ban_ff": ("idpk", "code_epci", "lib_epci")},
    ),
    2024: FF_LOCAL_COLUMNS,
}
FF_OWNER_COLUMNS_BY_MILLESIME: dict[int, tuple[str, ...]] = {
    2023: ("code_epci", "lib_epci") + FF_OWNER_COLUMNS,
    2024: FF_OWNER_COLUMNS,
}
# Real FF rename: proba_rprs (FF 2023, 086-datafoncier.ts) -> rppo_rs (FF 2024, df-housing-nat-2024.ts and
# the ff_rppo_rs column of lake/cerema/ff/2024/raw.csv printed in analytics/explorations/refactor_md/refactor.ipynb).
FF_LOCAL_RENAMES: dict[int, dict[str, str]] = {2023: {"proba_rprs": "rppo_rs"}}

# ---------------------------------------------------------------------------------------------------------
# Personal data
# ---------------------------------------------------------------------------------------------------------

# Names, birth dates and places, postal addresses (the owner's and the dwelling's street address: ZLV's
# address_dgfip is personal data, /work/shared/DOMAIN.md), and the ids that point at a person or at a
# person's account or right (idpersonne, dnuper, idprocpte/dnupro, idprodroit) or at an exact address (BAN
# ids). Not listed: coordinates, cadastral ids of the dwelling (ff_idlocal, invariant, idpar...), SIREN of
# legal persons, codes (INSEE, street codes, postcodes alone); a config can still coarsen those.
_PERSONAL_PATTERNS = re.compile(
    r"^(?:"
    r"gestre_ppre|proprietaire|cer_propriétaire|cer_gestionnaire|adresse[1-4]"
    r"|libvoie|ban_result_label|ban_result_id"
    r"|ff_idprocpte|ff_idprodroit_\d|ff_idpersonne_\d|ff_jdatnss(?:_\d)?|ff_dldnss_\d|ff_ddenom(?:_\d)?"
    r"|ff_dlign[3-6]_\d|cer_ff_adresse_\d|cer_nom_usage_\d"
    r"|idprocpte|dnupro|idprodroit|idpersonne|dnuper|ddenom|dlign[3-6]|dnomlp|dprnlp|dnomus|dprnus|jdatnss|dldnss"
    r"|dvoilib|dnvoiri|dindic|ban_id"
    r")$"
)


def personal_columns(columns: Iterable[str]) -> tuple[str, ...]:
    """The columns of a list that hold personal data, in the list's order."""
    return tuple(name for name in columns if _PERSONAL_PATTERNS.match(name))


_ALL_LISTS: tuple[tuple[str, ...], ...] = (
    *LOVAC_COLUMNS.values(),
    *LOVAC_LEGACY_COLUMNS.values(),
    *FF_LOCAL_COLUMNS_BY_MILLESIME.values(),
    *FF_OWNER_COLUMNS_BY_MILLESIME.values(),
)
PERSONAL_COLUMNS: frozenset[str] = frozenset(name for columns in _ALL_LISTS for name in personal_columns(columns))

SOURCES: dict[str, str] = {
    "LOVAC_COLUMNS[2023]": f"{ZLV_REPO}: {_ZLV_LOVAC_2023_DDL}",
    "LOVAC_COLUMNS[2024]": f"{ZLV_REPO}: {_ZLV_LOVAC_2024_NOTEBOOK}; {_ZLV_LOVAC_2024_STG}; order of the middle from {_URBAFLOW_LOVAC_2025}",
    "LOVAC_COLUMNS[2025]": f"{_URBAFLOW_LOVAC_2025}; cross-checked with {ZLV_REPO}: {_ZLV_LOVAC_2025_STG}",
    "LOVAC_COLUMNS[2026]": f"{ZLV_REPO}: {_ZLV_LOVAC_2026}; order from {_URBAFLOW_LOVAC_2025}",
    "LOVAC_LEGACY_COLUMNS[2022]": f"{ZLV_REPO}: {_ZLV_LOVAC_2022_DDL}; header of server/src/infra/database/data/dummy/dummy_data.csv @68067aae2",
    "LOVAC_RENAMES": f"{ZLV_REPO}: {_ZLV_LOVAC_2023_DDL}; {_ZLV_LOVAC_2024_STG}; {_ZLV_LOVAC_2025_STG}; "
    f"analytics/dbt/models/intermediate/zlovac/int_zlovac.sql (HEAD); {_URBAFLOW_LOVAC_2025}",
    "LOVAC_SUCCESSORS": f"{ZLV_REPO}: {_ZLV_LOVAC_2023_DDL}; {_ZLV_LOVAC_2024_NOTEBOOK}; server/src/infra/database/procedures/001-load-housing.sql",
    "LOVAC_DUPLICATE_RATE": f"{ZLV_REPO}: {_ZLV_DUPLICATES}",
    "LOVAC_FORMATS": f"{ZLV_REPO}: {_ZLV_LOVAC_2023_DDL}; {_ZLV_LOVAC_2024_NOTEBOOK}; {_ZLV_DAGSTER_CONFIG}; "
    "analytics/dbt/macros/lovac/handle_lovac_different_years.sql; analytics/dbt/dbt_project.yml; "
    f"analytics/dbt/models/intermediate/zlovac/int_zlovac.sql; {_URBAFLOW_LOVAC_2025}",
    "FF_LOCAL_COLUMNS": f"{ZLV_REPO}: {_ZLV_FF_2024}; {_ZLV_FF_2023}; analytics/dbt/models/staging/ff/stg_ff_housing_2024.sql",
    "FF_OWNER_COLUMNS": f"{ZLV_REPO}: {_ZLV_FF_2024}; {_ZLV_FF_2023}; analytics/dbt/models/staging/ff/stg_ff_owners_2025.sql; "
    "server/src/scripts/import-owners-datafoncier/README.md",
    "PERSONAL_COLUMNS": "our reading of the lists above; /work/shared/DOMAIN.md (which columns are personal in ZLV's tables)",
}

# ---------------------------------------------------------------------------------------------------------
# Plausible values
# ---------------------------------------------------------------------------------------------------------

# (INSEE code, name as DGFiP writes it, name with accents, postcode, latitude, longitude): real communes.
_COMMUNES = (
    ("31555", "TOULOUSE", "Toulouse", "31000", 43.6045, 1.4440),
    ("06088", "NICE", "Nice", "06000", 43.7034, 7.2663),
    ("44109", "NANTES", "Nantes", "44000", 47.2184, -1.5536),
    ("67482", "STRASBOURG", "Strasbourg", "67000", 48.5734, 7.7521),
    ("34172", "MONTPELLIER", "Montpellier", "34000", 43.6119, 3.8772),
    ("33063", "BORDEAUX", "Bordeaux", "33000", 44.8378, -0.5792),
    ("59350", "LILLE", "Lille", "59000", 50.6292, 3.0573),
    ("35238", "RENNES", "Rennes", "35000", 48.1173, -1.6778),
    ("51454", "REIMS", "Reims", "51100", 49.2583, 4.0317),
    ("42218", "ST ETIENNE", "Saint-Étienne", "42000", 45.4397, 4.3872),
    ("76540", "ROUEN", "Rouen", "76000", 49.4432, 1.0999),
    ("29019", "BREST", "Brest", "29200", 48.3904, -4.4861),
    ("63113", "CLERMONT FERRAND", "Clermont-Ferrand", "63000", 45.7772, 3.0870),
    ("21231", "DIJON", "Dijon", "21000", 47.3220, 5.0415),
    ("37261", "TOURS", "Tours", "37000", 47.3941, 0.6848),
    ("87085", "LIMOGES", "Limoges", "87000", 45.8336, 1.2611),
    ("2A004", "AJACCIO", "Ajaccio", "20000", 41.9192, 8.7386),
    ("2B033", "BASTIA", "Bastia", "20200", 42.6973, 9.4509),
    ("01053", "BOURG EN BRESSE", "Bourg-en-Bresse", "01000", 46.2052, 5.2255),
    ("23096", "GUERET", "Guéret", "23000", 46.1712, 1.8714),
    ("48095", "MENDE", "Mende", "48000", 44.5181, 3.5006),
    ("12202", "RODEZ", "Rodez", "12000", 44.3506, 2.5750),
    ("88160", "EPINAL", "Épinal", "88000", 48.1724, 6.4496),
    ("24322", "PERIGUEUX", "Périgueux", "24000", 45.1847, 0.7214),
    ("05061", "GAP", "Gap", "05000", 44.5594, 6.0786),
    ("80021", "AMIENS", "Amiens", "80000", 49.8941, 2.2958),
    ("86194", "POITIERS", "Poitiers", "86000", 46.5802, 0.3404),
    ("64445", "PAU", "Pau", "64000", 43.2951, -0.3708),
    ("17300", "LA ROCHELLE", "La Rochelle", "17000", 46.1603, -1.1511),
    ("56260", "VANNES", "Vannes", "56000", 47.6582, -2.7608),
    ("75111", "PARIS 11", "Paris 11e Arrondissement", "75011", 48.8590, 2.3800),
)
# Surnames and first names as the tax files write them (upper case). A few carry Windows-1252-only
# characters (’ 0x92, Œ 0x8C), as real "Latin-1" LOVAC exports do; none is outside Windows-1252.
_SURNAMES = _names(
    "MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT SIMON MICHEL LEFÈVRE LEFEBVRE GARNIER"
    " FAURE ROUSSEAU BLANC GUÉRIN MULLER HENRY ROUSSEL NICOLAS PERRIN MORIN MATHIEU CLÉMENT GAUTHIER DUMONT LOPEZ"
    " FONTAINE CHEVALIER ROBIN MASSON SANCHEZ GÉRARD NGUYEN BOYER DENIS LEMAIRE DUVAL JOLY ROGER ROCHE NOËL MEYER"
    " LUCAS MEUNIER PÉREZ MARCHAND DUFOUR BLANCHARD BARBIER BRUN DUMAS BRUNET SCHMITT LEROUX COLIN FERNANDEZ RENARD"
    " ARNAUD ROLLAND CARON AUBERT GIRAUD LECLERC VIDAL BOURGEOIS RENAUD LEMOINE PICARD GAILLARD LACROIX FABRE DUPUIS"
    " OLIVIER HUBERT RIVIÈRE GUILLAUME MOULIN BÉNARD CHÂTELAIN BRIÈRE LECŒUR CŒURDEVEY D’ALMEIDA L’HUILLIER N’DIAYE"
    " D’ANGELO"
) + ("DA SILVA", "LE GALL", "DE LA FONTAINE")
_FIRST_NAMES = {
    "M": _names(
        "JEAN PIERRE MICHEL ANDRÉ PHILIPPE RENÉ LOUIS ALAIN JACQUES BERNARD JOSÉ FRANÇOIS GÉRARD RAYMOND JÉRÔME"
        " STÉPHANE NOËL GAËL JOËL ROLAND LUCIEN MARCEL CLAUDE DANIEL PASCAL"
    ),
    "MME": _names(
        "MARIE HÉLÈNE FRANÇOISE MONIQUE CATHERINE NATHALIE ISABELLE SYLVIE THÉRÈSE CÉLINE AURÉLIE MAËLLE CHLOÉ LÉA"
        " ZOÉ ÉMILIE ANAÏS AGNÈS DENISE YVETTE GISÈLE NOËLLE CLAUDE"
    ),
}
_STREET_TYPES = _names("RUE RUE RUE AV BD CHE RTE ALL IMP PL GR PAS QUA CRS")
_STREET_NAMES = (
    "DE LA REPUBLIQUE",
    "DU GENERAL DE GAULLE",
    "DES TILLEULS",
    "DU MOULIN",
    "DE LA GARE",
    "VICTOR HUGO",
    "JEAN JAURES",
    "DES ECOLES",
    "DU STADE",
    "DE L EGLISE",
    "PASTEUR",
    "DES LILAS",
    "DU CHATEAU",
    "DE LA LIBERATION",
    "DES CINQ CHEMINS",
    "DU SACRE COEUR",
    "DE LA FONTAINE",
)
_BAN_STREET_TYPES = {"RUE": "Rue", "AV": "Avenue", "BD": "Boulevard", "CHE": "Chemin", "RTE": "Route", "ALL": "Allée"}
_BAN_STREET_TYPES |= {"IMP": "Impasse", "PL": "Place", "GR": "Grande Rue", "PAS": "Passage", "QUA": "Quai", "CRS": "Cours"}
_BAN_STREET_NAMES = {
    "DE LA REPUBLIQUE": "de la République",
    "DU GENERAL DE GAULLE": "du Général de Gaulle",
    "DES ECOLES": "des Écoles",
    "DE L EGLISE": "de l'Église",
    "DU CHATEAU": "du Château",
    "DE LA LIBERATION": "de la Libération",
    "DU SACRE COEUR": "du Sacré-Cœur",
}
_LEGAL_NAMES = (
    "SCI DES TILLEULS",
    "SCI LES ÉTANGS",
    "SCI DU CŒUR DE VILLE",
    "SCI D’ALMEIDA FRÈRES",
    "SCI L’OLIVERAIE",
    "SCI 1 € SYMBOLIQUE",
    "SARL IMMO GESTION",
    "SAS LES TROIS CHÊNES",
    "SCI FAMILLE MARTIN",
    "SCI BELLEVUE",
)
# groupe of the 1767 file (owner group; blank = physical person), shares seen in LOVAC 2024
# (_ZLV_LOVAC_2024_NOTEBOOK: ' ' 62.4%, '0' 19.4%, '5' 13.1%, '4' 2.4%, '7' 0.91%, '9' 0.53%, '1' 0.50%, ...).
_GROUPES = (" ", "0", "5", "4", "7", "9", "1", "6", "3", "2", "8")
_GROUPE_WEIGHTS = (62.39, 19.36, 13.12, 2.44, 0.91, 0.53, 0.50, 0.46, 0.21, 0.07, 0.01)
# groupe (= MAJIC ccogrm) -> (catpro2txt labels seen in LOVAC 2024, catpro3 codes of that family from
# analytics/dbt/macros/lovac/owner_kind_processing.sql), and MAJIC ccogrm labels.
_GROUPE_KINDS = {
    " ": (("PERSONNE PHYSIQUE",), ("X1a",)),
    "0": (
        ("SOCIETE CIVILE A VOCATION IMMOBILIERE", "INVESTISSEUR PROFESSIONNEL", "PERSONNE MORALE AUTRE", "PROMOTEUR"),
        ("G1a", "F7b", "M1a", "F6a"),
    ),
    "5": (("ORGANISME DE LOGEMENT SOCIAL",), ("F1a",)),
    "4": (("COMMUNE",), ("P4a",)),
    "7": (("PROPRIETE DIVISEE EN LOT",), ("G2a",)),
    "9": (("ETABLISSEMENT PUBLIC FONCIER", "ETABLISSEMENT DE SANTE"), ("F2a", "S1a")),
    "1": (("ETAT",), ("P1a",)),
    "6": (("SEM OU SPLA",), ("F5a",)),
    "3": (("DEPARTEMENT",), ("P3a",)),
    "2": (("REGION",), ("P2a",)),
    "8": (("PERSONNE MORALE AUTRE",), ("M1a",)),
}
_CCOGRM_LABELS = {
    "0": "PERSONNES MORALES NON REMARQUABLES",
    "1": "ETAT",
    "2": "REGION",
    "3": "DEPARTEMENT",
    "4": "COMMUNE",
    "5": "OFFICE HLM",
    "6": "PERSONNES MORALES REPRESENTANT DES SOCIETES",
    "7": "COPROPRIETAIRE",
    "8": "ASSOCIE",
    "9": "ETABLISSEMENTS PUBLICS OU ORGANISMES ASSIMILES",
}
# ff_ccodro_1 counts in LOVAC 2024 (_ZLV_LOVAC_2024_NOTEBOOK): P 881406, U 72096, E 4957, R 2784, A 183, W 83.
# U (usufruct) is drawn with its N (bare ownership) partners in _owners, the others here.
_CCODRO = ("P", "E", "R", "A", "W")
_CCODRO_WEIGHTS = (881406, 4957, 2784, 183, 83)
_CCODRO_LABELS = {
    "P": "PROPRIETAIRE",
    "U": "USUFRUITIER",
    "N": "NU-PROPRIETAIRE",
    "E": "EMPHYTEOTE",
    "R": "PRENEUR A CONSTRUCTION",
}
_CCODRO_LABELS |= {
    "A": "LOCATAIRE-ATTRIBUTAIRE",
    "W": "PRENEUR D UN BAIL A REHABILITATION",
    "G": "GERANT, MANDATAIRE, GESTIONNAIRE",
}
_CCTHP = ("V", "L", "P", "B", "RS", "T", "G", "N", "D", "U", "X", "A")
_CCTHP_WEIGHTS = (55, 15, 20, 1, 3, 1, 1, 1, 1, 1, 0.5, 0.5)
_LOCPROP_LABELS = {"1": "COMMUNE", "2": "DEPARTEMENT", "3": "REGION", "4": "FRANCE", "5": "ETRANGER"}
_DVF_NATURES = (
    "Vente",
    "Vente",
    "Vente",
    "Vente en l'état futur d'achèvement",
    "Adjudication",
    "Échange",
    "Vente terrain à bâtir",
)
_DVF_TYPES = {
    "MAISON": (("1113", "UNE MAISON ANCIENNE"), ("1112", "UNE MAISON RECENTE"), ("1111", "UNE MAISON VEFA OU NEUVE")),
    "APPART": (("1213", "UN APPARTEMENT ANCIEN"), ("1212", "UN APPARTEMENT RECENT"), ("121", "DES APPARTEMENTS")),
}
_FOREIGN_BIRTHPLACES = ("99 ALGERIE(GUELMA)", "99 MAROC(CASABLANCA)", "99 PORTUGAL(PORTO)", "99 BELGIQUE(LIEGE)")
_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def lambert93(lat: float, lon: float) -> tuple[float, float]:
    """WGS84 degrees -> Lambert-93 metres (EPSG:2154), the projection of ff_x / ff_y and of the FF points."""
    a, e = 6378137.0, 0.08181919104281579

    def m(phi: float) -> float:
        return math.cos(phi) / math.sqrt(1 - (e * math.sin(phi)) ** 2)

    def t(phi: float) -> float:
        return math.tan(math.pi / 4 - phi / 2) / ((1 - e * math.sin(phi)) / (1 + e * math.sin(phi))) ** (e / 2)

    phi1, phi2, phi0, lon0 = math.radians(44), math.radians(49), math.radians(46.5), math.radians(3)
    n = (math.log(m(phi1)) - math.log(m(phi2))) / (math.log(t(phi1)) - math.log(t(phi2)))
    f = m(phi1) / (n * t(phi1) ** n)
    rho, rho0 = a * f * t(math.radians(lat)) ** n, a * f * t(phi0) ** n
    theta = n * (math.radians(lon) - lon0)
    return 700000 + rho * math.sin(theta), 6600000 + rho0 - rho * math.cos(theta)


def _wkb_point_hex(x: float, y: float) -> str:
    return (struct.pack("<BI", 1, 1) + struct.pack("<dd", x, y)).hex().upper()


_LEGAL_NAME_BY_GROUPE = {
    "5": "OPH {city} HABITAT",
    "4": "COMMUNE DE {city}",
    "9": "ETABLISSEMENT PUBLIC FONCIER {city}",
    "1": "ETAT PAR FRANCE DOMAINE",
    "6": "SEM {city} AMENAGEMENT",
    "3": "DEPARTEMENT {dep}",
    "2": "REGION {dep}",
}


@dataclass
class _Owner:
    legal: bool
    surname: str = ""
    first_names: str = ""
    civility: str = ""
    birth: date | None = None
    birthplace: str = ""
    legal_name: str = ""
    dnuper: str = ""
    siren: str = ""
    ccogrm: str = ""
    catpro2txt: str = ""
    catpro3: str = ""
    ccodro: str = "P"
    # number and street, complement, locality, postcode, city
    address: tuple[str, str, str, str, str] = ("", "", "", "", "")
    same_commune: bool = False
    same_dep: bool = False


@dataclass
class _Row:
    """The choices shared by the columns of one generated row."""

    rng: random.Random
    millesime: int
    lovac: bool
    commune: tuple = ()
    section: str = ""
    plan: str = ""
    invar: str = ""
    cle: str = ""
    number: int = 1
    voie: str = ""
    street: tuple[str, str] = ("RUE", "DE LA GARE")
    lat: float = 0.0
    lon: float = 0.0
    nature: str = "MAISON"
    stoth: int = 0
    rooms: int = 0
    ccthp: str = "V"
    groupe: str = " "
    dnupro: str = ""
    mutation: date = date(2000, 1, 1)
    has_dvf: bool = False
    vacancy_start: int = 0
    taxed: bool = False
    manager: str = ""
    rnb_id: str = ""
    has_ban: bool = True
    owners: list[_Owner] = field(default_factory=list)
    local: dict[str, str] | None = None
    by_owner: dict[int, dict[str, str]] = field(default_factory=dict)

    @property
    def idcom(self) -> str:
        return self.commune[0]

    @property
    def dep(self) -> str:
        return self.commune[0][:2]

    @property
    def fmt(self) -> dict[str, str]:
        return lovac_format(self.millesime)


def _new_row(rng: random.Random, millesime: int, lovac: bool) -> _Row:
    r = _Row(rng=rng, millesime=millesime, lovac=lovac)
    r.commune = rng.choice(_COMMUNES)
    r.section = rng.choice(("0", "0", "A", rng.choice(_UPPER))) + rng.choice(_UPPER)
    r.plan = f"{rng.randrange(1, 3000):04d}"
    r.invar = r.commune[0][2:] + f"{rng.randrange(10**7):07d}"
    r.cle = rng.choice(_UPPER)
    r.number = rng.choice((rng.randrange(1, 60), rng.randrange(1, 60), rng.randrange(1, 1500)))
    r.voie = rng.choice((f"{rng.randrange(1, 999):04d}", f"B{rng.randrange(1, 999):03d}"))
    r.street = (rng.choice(_STREET_TYPES), rng.choice(_STREET_NAMES))
    r.lat, r.lon = r.commune[4] + rng.uniform(-0.03, 0.03), r.commune[5] + rng.uniform(-0.04, 0.04)
    r.nature = "MAISON" if rng.random() < 0.55 else "APPART"
    r.stoth = rng.randrange(45, 220) if r.nature == "MAISON" else rng.randrange(14, 130)
    r.rooms = max(1, min(9, r.stoth // 22 + rng.choice((-1, 0, 0, 1))))
    r.ccthp = rng.choices(_CCTHP, _CCTHP_WEIGHTS)[0]
    r.groupe = rng.choices(_GROUPES, _GROUPE_WEIGHTS)[0]
    r.dnupro = rng.choice(_UPPER) + f"{rng.randrange(10**5):05d}"
    r.mutation = date(rng.randrange(1975, millesime), rng.randrange(1, 13), rng.randrange(1, 29))
    r.has_dvf = r.mutation.year >= 2014 and rng.random() < 0.8
    r.vacancy_start = millesime - min(int(rng.expovariate(0.25)) + 1, 35)
    r.taxed = r.ccthp == "V" and r.vacancy_start < millesime - 1 and rng.random() < 0.5
    r.rnb_id = "".join(rng.choice(_ALNUM) for _ in range(12)) if rng.random() < 0.8 else ""
    r.has_ban = rng.random() < 0.9
    if rng.random() < 0.06:
        r.manager = rng.choice(
            ("CABINET LEROY GESTION", "AGENCE DU CŒUR DE VILLE", "ETUDE NOTARIALE DUPUIS", "SYNDIC L’ESTUAIRE")
        )
    r.owners = _owners(r)
    return r


def _owners(r: _Row) -> list[_Owner]:
    rng = r.rng
    if r.groupe != " ":
        labels, codes = _GROUPE_KINDS[r.groupe]
        k = rng.randrange(len(labels))
        template = _LEGAL_NAME_BY_GROUPE.get(r.groupe)
        name = template.format(city=r.commune[1], dep=r.dep) if template else rng.choice(_LEGAL_NAMES)
        owner = _Owner(legal=True, legal_name=name, ccogrm=r.groupe, catpro2txt=labels[k], catpro3=codes[k])
        owner.siren = str(rng.randrange(10**8, 10**9))
        owner.dnuper = "P" + "".join(rng.choice(_ALNUM) for _ in range(5))
        owner.address = _postal_address(r, owner)
        return [owner]
    count = rng.choices((1, 2, 3, 4, 5, 6), (55, 30, 9, 4, 1.5, 0.5))[0]
    family = rng.choice(_SURNAMES)
    owners = []
    for rank in range(count):
        surname = family if rank == 0 or rng.random() < 0.6 else rng.choice(_SURNAMES)
        born = date(r.millesime - rng.randrange(25, 96), rng.randrange(1, 13), rng.randrange(1, 29))
        place = rng.choice(_COMMUNES)
        birthplace = place[2].upper().replace(" ", "-")
        birthplace = rng.choice(_FOREIGN_BIRTHPLACES) if rng.random() < 0.08 else f"{place[0][:2]} {birthplace}"
        civility = rng.choice(("M", "MME"))
        owner = _Owner(
            legal=False,
            surname=surname,
            first_names=" ".join(rng.sample(_FIRST_NAMES[civility], rng.choice((1, 1, 2, 3)))),
            civility=civility,
            birth=born,
            birthplace=birthplace,
            dnuper="".join(rng.choice(_ALNUM) for _ in range(6)),
            catpro2txt="PERSONNE PHYSIQUE",
            catpro3="X1a",
            ccodro=rng.choices(_CCODRO, _CCODRO_WEIGHTS)[0],
        )
        owner.address = _postal_address(r, owner)
        owners.append(owner)
    if count >= 2 and rng.random() < 0.15:  # usufruct and bare ownership
        owners[0].ccodro = "U"
        for owner in owners[1:]:
            owner.ccodro = "N"
    return owners


def _postal_address(r: _Row, owner: _Owner) -> tuple[str, str, str, str, str]:
    rng = r.rng
    commune = r.commune if rng.random() < 0.35 else rng.choice(_COMMUNES)
    owner.same_commune = commune[0] == r.idcom
    owner.same_dep = commune[0][:2] == r.dep
    street = f"{rng.randrange(1, 300)} {rng.choice(_STREET_TYPES)} {rng.choice(_STREET_NAMES)}"
    complement = rng.choice(("", "", "", "", "APPT 12", "BAT B", "RESIDENCE LES PINS", "CHEZ MME DUVAL"))
    locality = rng.choice(("",) * 12 + ("LIEU DIT LA BORDE", "HAMEAU DE BEAULIEU", "LES GRANDS CHAMPS"))
    return street, complement, locality, commune[3], commune[1]


_LOVAC_NAMES = frozenset(name for columns in (*LOVAC_COLUMNS.values(), *LOVAC_LEGACY_COLUMNS.values()) for name in columns)
_FF_ONLY_NAMES = frozenset(FF_LOCAL_COLUMNS) | frozenset(FF_OWNER_COLUMNS)
# Columns of proprietaire_droit that describe the account or the local, not the owner of the line.
_FF_ACCOUNT_COLUMNS = frozenset(_names("idprocpte idvoie idcom idcomtxt ccodep ccodir ccocom dnupro ccocif idpk"))
_RANKED = re.compile(r"^(.*)_([1-6])$")


def _context(row: dict, rng: random.Random, column: str) -> _Row:
    ctx = row.get("_ctx")
    if isinstance(ctx, _Row):
        return ctx
    lovac = (
        "annee" in row
        or any(key.startswith(("ff_", "cer_")) for key in row)
        or (column in _LOVAC_NAMES and column not in _FF_ONLY_NAMES)
    )
    year = str(row.get("annee", ""))
    millesime = int(year) if year.isdigit() else (rng.choice(sorted(LOVAC_COLUMNS)) if lovac else 2024)
    ctx = _new_row(rng, millesime, lovac)
    row["_ctx"] = ctx
    return ctx


def _date(value: date | None, pattern: str) -> str:
    if value is None:
        return ""
    if pattern.startswith("int:"):
        return str(int(value.strftime(pattern[4:])))
    return value.strftime(pattern)


def _decimal(ctx: _Row, value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if ctx.lovac and ctx.fmt["decimal"] == "," else text


def _ddenom(ctx: _Row, owner: _Owner) -> str:
    if owner.legal:
        return owner.legal_name
    # FF and LOVAC up to 2023 write NAME/FIRST NAMES; the LOVAC 2024 and 2025 lines seen write NAME FIRST NAMES.
    sep = " " if ctx.lovac and ctx.millesime >= 2024 else "/"
    return f"{owner.surname}{sep}{owner.first_names}"


def _designation(owner: _Owner) -> str:
    """The owner as the 1767 tax file names it (gestre_ppre, cer_propriétaire): civility NAME first name."""
    if owner.legal:
        return owner.legal_name
    return f"{owner.civility} {owner.surname} {owner.first_names.split()[0]}"


def _locprop(owner: _Owner) -> str:
    return "1" if owner.same_commune else "2" if owner.same_dep else "4"


def _history(rng: random.Random, last: str, length: int, codes: tuple[str, ...]) -> str:
    return "-".join([rng.choice(codes) for _ in range(length - 1)] + [last])


def _ffh_jdatat(ctx: _Row) -> str:
    rng = ctx.rng
    earlier = sorted(
        {
            date(rng.randrange(min(1980, ctx.mutation.year), ctx.mutation.year + 1), rng.randrange(1, 13), 1)
            for _ in range(rng.randrange(0, 3))
        }
    )
    dates = [d for d in earlier if d < ctx.mutation] + [ctx.mutation]
    if rng.random() < 0.4:
        dates.insert(0, date(1970, 1, 1))
    return ",".join(d.isoformat() for d in dates)


def _anmutation(ctx: _Row) -> str:
    if ctx.lovac and ctx.millesime <= 2023:  # the variants ZLV's 2023 loader rewrites
        roll = ctx.rng.random()
        if roll < 0.02:
            return str(ctx.mutation.year)
        if roll < 0.03:
            return ctx.mutation.strftime("%m/%Y")
        if roll < 0.0305:
            return "31/02/1999"
    return _date(ctx.mutation, ctx.fmt["anmutation"])


def _owner_values(ctx: _Row, rank: int) -> dict[str, str]:
    """The columns of owner `rank`: LOVAC's groups, or the owner of an FF proprietaire_droit line (rank 1)."""
    if rank in ctx.by_owner:
        return ctx.by_owner[rank]
    if rank > len(ctx.owners):
        ctx.by_owner[rank] = {}
        return {}
    owner = ctx.owners[rank - 1]
    rng = ctx.rng
    number, street = owner.address[0].split(" ", 1)
    city_line = f"{owner.address[3]} {owner.address[4]}"
    person = not owner.legal
    form = (owner.legal_name.split() or [""])[0]
    values = {
        "idprodroit": f"{ctx.idcom}{ctx.dnupro}{rank:02d}",
        "idpersonne": ctx.dep + owner.dnuper,
        "dnuper": owner.dnuper,
        "dnulp": f"{rank:02d}",
        "jdatnss": _date(owner.birth, ctx.fmt["ff_jdatnss"] if ctx.lovac else "%d/%m/%Y"),
        "dldnss": owner.birthplace,
        "ddenom": _ddenom(ctx, owner),
        "cer_nom_usage": f"{owner.surname} {owner.first_names}".replace(" ", "_") if person else "",
        "dsiren": owner.siren,
        "ccogrm": owner.ccogrm,
        "ccogrmtxt": _CCOGRM_LABELS.get(owner.ccogrm, ""),
        "catpro2txt": owner.catpro2txt,
        "catpro3": owner.catpro3,
        "catpro2": owner.catpro3[:2],
        "catpro3txt": owner.catpro2txt,
        "ccodro": owner.ccodro,
        "ccodrotxt": _CCODRO_LABELS.get(owner.ccodro, ""),
        "locprop": _locprop(owner),
        "locproptxt": _LOCPROP_LABELS[_locprop(owner)],
        "cer_ff_adresse": f"{number.zfill(4)} {street} {city_line}",
        "dlign3": owner.address[1],
        "dlign4": owner.address[0],
        "dlign5": owner.address[2],
        "dlign6": city_line,
        "ccopos": owner.address[3],
        "ccodep1a2": owner.address[3][:2],
        "ccocomadr": "",
        "dnvoiri": number.zfill(4),
        "dnomlp": owner.surname,
        "dprnlp": owner.first_names,
        "dnomus": owner.surname,
        "dprnus": owner.first_names.split()[0] if person else "",
        "dqualp": owner.civility,
        "ccoqua": {"M": "1", "MME": "2"}.get(owner.civility, ""),
        "gtoper": "1" if person else "2",
        "typedroit": "P",
        "gdesip": "1",
        "ccodem": "I" if len(ctx.owners) > 1 else "",
        "ccodemtxt": "INDIVISION" if len(ctx.owners) > 1 else "",
        "dforme": form if form in ("SCI", "SARL", "SAS") else "",
        "dformjur": {"SCI": "6540", "SARL": "5499", "SAS": "5710"}.get(form, ""),
        "dsglpm": "",
        "ccopay": "",
        "ccodira": "0",
    }
    if ctx.lovac and ctx.millesime in LOVAC_FLOAT_COLUMNS and rank > 1:
        values["locprop"] += ".0"
    if rng.random() < 0.02:  # an owner known only by name, as some real lines are
        values["jdatnss"] = values["dldnss"] = ""
    ctx.by_owner[rank] = values
    return values


def _local_values(ctx: _Row) -> dict[str, str]:
    """The columns of the local (LOVAC line without its owner groups, FF pb0010_local), chosen once per row."""
    if ctx.local is not None:
        return ctx.local
    rng, m, fmt = ctx.rng, ctx.millesime, ctx.fmt
    idcom, dep = ctx.idcom, ctx.dep
    idsec = idcom + "000" + ctx.section
    idpar = idsec + ctx.plan
    x, y = lambert93(ctx.lat, ctx.lon)
    owner1 = ctx.owners[0]
    floats = LOVAC_FLOAT_COLUMNS.get(m, frozenset()) if ctx.lovac else frozenset()
    street_type, street_name = ctx.street
    ban = ctx.has_ban
    ban_name = _BAN_STREET_NAMES.get(street_name) or " ".join(
        word.lower() if word in ("DE", "DU", "DES", "LA", "LE", "LES") else word.title() for word in street_name.split()
    )
    ban_label = f"{ctx.number} {_BAN_STREET_TYPES.get(street_type, 'Rue')} {ban_name} {ctx.commune[3]} {ctx.commune[2]}"
    ban_id = f"{idcom}_{ctx.voie[-4:].replace('B', '0')}_{ctx.number:05d}"
    intercommunality = random.Random(idcom)
    designation = _designation(owner1)
    dvf_code, dvf_label = rng.choice(_DVF_TYPES[ctx.nature])
    price = rng.randrange(30, 600) * 1000
    points = {name: (x + rng.uniform(-8, 8), y + rng.uniform(-8, 8)) for name in ("geomloc", "geomrnb", "ban_geom")}

    def count(name: str, value: int) -> str:
        return f"{value}.0" if name in floats else str(value)

    def geometry(name: str, present: bool) -> str:
        if not present:
            return ""
        px, py = points[name]
        return _wkb_point_hex(px, py) if ctx.lovac else f"POINT({px:.2f} {py:.2f})"

    v: dict[str, object] = {
        "annee": m,
        "ff_millesime": m - 1,
        "dir": f"{dep}0",
        "sip": rng.randrange(100, 1200),
        "cer_local_occ": rng.choice(("1", "1", "1", "0")),
        "invariant": f"I{ctx.invar}{ctx.cle}",
        "invar": ctx.invar,
        "cleinvar": ctx.cle,
        "idlocal": dep + ctx.invar,
        "idbat": idpar + "A",
        "idpar": idpar,
        "idtup": idpar,
        "idsec": idsec,
        "refcad": ctx.section.lstrip("0") + ctx.plan,
        "ccopre": "000",
        "ccosec": ctx.section,
        "dnupla": ctx.plan,
        "loc_num": ctx.number,
        "dnvoiri": f"{ctx.number:04d}",
        "loc_voie": ctx.voie,
        "ccoriv": ctx.voie,
        "ccovoi": f"{ctx.voie[-4:].replace('B', '0')}{rng.choice(_UPPER)}",
        "idvoie": idcom + ctx.voie,
        "libvoie": f"{ctx.number:04d}   {street_type} {street_name}",
        "dvoilib": f"{street_type} {street_name}",
        "dindic": rng.choice(("",) * 9 + ("B",)),
        "batloc": f"{rng.choice('ABC')}{rng.randrange(1, 4):02d}{rng.randrange(0, 6):02d}{rng.randrange(1, 1100):05d}",
        "dnubat": rng.choice(("A", "01", "B")),
        "descc": "01",
        "dniv": f"{rng.randrange(0, 6):02d}" if ctx.nature == "APPART" else "00",
        "dpor": f"{rng.randrange(1, 1100):05d}",
        "rnb_id": ctx.rnb_id,
        "rnb_id_score": rng.choice("0123") if ctx.rnb_id else "",
        "ff_rnb_emp": rng.randrange(1, 4) if ctx.rnb_id else "",
        "libcom": ctx.commune[1],
        "idcomtxt": ctx.commune[2],
        "commune": idcom[2:],
        "ccocom": idcom[2:],
        "idcom": idcom,
        "cog_2025": idcom,
        "intercommunalite": f"{intercommunality.choice('UL')}{intercommunality.randrange(100, 1000)}",
        "ccodep": dep,
        "ccodir": "0" if dep.isdigit() else "1",
        "ccocif": f"{intercommunality.randrange(1000, 10000)}",
        "ban_result_score": _decimal(ctx, rng.uniform(0.45, 0.99), 4) if ban else "",
        "ban_score": _decimal(ctx, rng.uniform(0.45, 0.99), 4) if ban else "",
        "ban_result_label": ban_label if ban else "",
        "ban_result_postcode": ctx.commune[3] if ban else "",
        "ban_postcode": ctx.commune[3] if ban else "",
        "ban_cp": ctx.commune[3] if ban else "",
        "ban_result_id": ban_id if ban else "",
        "ban_id": ban_id if ban else "",
        "ban_type": "housenumber" if ban else "",
        "ban_latitude": _decimal(ctx, ctx.lat + rng.uniform(-2e-4, 2e-4), 6) if ban else "",
        "ban_longitude": _decimal(ctx, ctx.lon + rng.uniform(-2e-4, 2e-4), 6) if ban else "",
        "distance_ban_ff": _decimal(ctx, rng.uniform(0, 150), 2) if ban else "",
        "dis_ban_ff": rng.randrange(0, 150) if ban else "",
        "ff_x": _decimal(ctx, x, 6),
        "ff_y": _decimal(ctx, y, 6),
        "ff_x_4326": _decimal(ctx, ctx.lon, 8),
        "ff_y_4326": _decimal(ctx, ctx.lat, 8),
        "geomloc": geometry("geomloc", True),
        "geomrnb": geometry("geomrnb", bool(ctx.rnb_id)),
        "ban_geom": geometry("ban_geom", ban),
        "source_geo": rng.choice(("PARCELLE", "BATIMENT", "BAN")),
        "vecteur": rng.choice(("V", "V", "N")),
        "nature": ctx.nature,
        "dteloc": "1" if ctx.nature == "MAISON" else "2",
        "dteloctxt": "MAISON" if ctx.nature == "MAISON" else "APPARTEMENT",
        "cconlc": "MA" if ctx.nature == "MAISON" else "AP",
        "cconlctxt": "MAISON" if ctx.nature == "MAISON" else "APPARTEMENT",
        "logh": "t",
        "loghmais": "t" if ctx.nature == "MAISON" else "f",
        "loghappt": "f" if ctx.nature == "MAISON" else "t",
        "gpdl": "" if ctx.nature == "MAISON" else "1",
        "ctpdl": "" if ctx.nature == "MAISON" or rng.random() < 0.3 else rng.choice(("CL", "CL", "CL", "CV", "BND")),
        "stoth": ctx.stoth,
        "slocal": ctx.stoth + rng.randrange(0, 120),
        "stotd": rng.randrange(0, 40),
        "npiece_p2": ctx.rooms,
        "npiece_ff": ctx.rooms,
        "npiece_i": ctx.rooms,
        "npiece_soc": ctx.rooms,
        "jannath": rng.choice((0, rng.randrange(1800, 1950), rng.randrange(1950, m - 1), rng.randrange(1950, m - 1))),
        "jannat": rng.randrange(1800, m - 1),
        "janbilmin": rng.randrange(1800, m - 1),
        "dnbniv": f"{rng.randrange(1, 6):02d}",
        "nbetagemax": rng.randrange(0, 8),
        "nbnivssol": rng.choice((0, 0, 0, 1)),
        "dnbbai": count("ff_dnbbai", rng.choices((0, 1, 2), (8, 85, 7))[0]),
        "dnbdou": count("ff_dnbdou", rng.choices((0, 1, 2), (40, 55, 5))[0]),
        "dnbwc": count("ff_dnbwc", rng.choices((0, 1, 2), (5, 85, 10))[0]),
        "dcapec2": rng.choices(range(1, 9), (1, 2, 6, 20, 35, 25, 8, 3))[0],
        "ndroit": len(ctx.owners),
        "ndroitindi": 0 if owner1.legal else len(ctx.owners),
        "ndroitpro": len(ctx.owners),
        "ndroitges": 0,
        "dcntpa": rng.randrange(150, 3000) if ctx.nature == "MAISON" else rng.choice(("", rng.randrange(300, 9000))),
        "vlcad": rng.randrange(150, 4000),
        "dvltrt": rng.randrange(150, 4000),
        "vl_revpro": rng.choice((0,) * 9 + (rng.randrange(500, 9000),)),
        "aff": rng.choices(("H", "A", "S"), (97, 2, 1))[0],
        "ccthp": ctx.ccthp,
        "ffh_ccthp": _history(rng, ctx.ccthp, rng.randrange(8, 16), ("P", "P", "L", "V")),
        "rppo_rs": {"P": "RPPO", "RS": "RS"}.get(ctx.ccthp, "NO"),
        "proba_rprs": {"P": "RPPO", "RS": "RS"}.get(ctx.ccthp, "NO"),
        "loghvac": "t" if ctx.ccthp == "V" else "f",
        "loghvac2a": "t" if ctx.ccthp == "V" and ctx.vacancy_start < m - 2 else "f",
        "loghvac5a": "t" if ctx.ccthp == "V" and ctx.vacancy_start < m - 5 else "f",
        "loghvacdeb": ctx.vacancy_start if ctx.ccthp == "V" else "",
        "debutvacance": ctx.vacancy_start,
        "anrefthlv": rng.randrange(max(ctx.vacancy_start + 1, m - 6), m) if ctx.taxed else "",
        "txtlv": (rng.choice(("12,5", "25")) if m <= 2023 else rng.choice(("17", "34"))) if ctx.taxed else "",
        "potentiel_tlv_thlv": "*" if ctx.ccthp == "V" and rng.random() < 0.4 else "",
        "cer_h1767": _history(rng, "V", 6, ("O", "V", "V")),
        "jdatat": _date(ctx.mutation, fmt["ff_jdatat"] if ctx.lovac else "%d%m%Y"),
        "jdatatv": _date(ctx.mutation, "%d%m%Y"),
        "jdatatan": ctx.mutation.year,
        "ffh_jdatat": _ffh_jdatat(ctx),
        "anmutation": _anmutation(ctx),
        "dnupro": ctx.dnupro,
        "idprocpte": idcom + ctx.dnupro,
        "groupe": ctx.groupe,
        "catpro2txt": owner1.catpro2txt,
        "catpro3": owner1.catpro3,
        "catpro2": owner1.catpro3[:2],
        "catpropro2": owner1.catpro3[:2],
        "locprop": _locprop(owner1),
        "locproptxt": _LOCPROP_LABELS[_locprop(owner1)],
        "gestre_ppre": ctx.manager or designation,
        "proprietaire": designation if ctx.manager else "",
        "cer_propriétaire": designation,
        "cer_gestionnaire": ctx.manager,
        "adresse1": owner1.address[0],
        "adresse2": owner1.address[1],
        "adresse3": owner1.address[2],
        "adresse4": f"{owner1.address[3]} {owner1.address[4]}",
        "npevph": 1,
        "npevd": rng.randrange(0, 3),
        "npevp": 0,
        "npevtot": rng.randrange(1, 4),
        "sprincp": 0,
        "ssecp": 0,
        "ssecncp": 0,
        "sparkp": 0,
        "sparkncp": 0,
        "stotdsueic": 0,
        "nbannexe": rng.choice((0, 0, 1)),
        "nbgarpark": rng.choice((0, 0, 1)),
        "nbagrement": 0,
        "nbterrasse": rng.choice((0, 0, 0, 1)),
        "nbpiscine": rng.choice((0,) * 19 + (1,)),
        "fburx": 0,
        "ccoeva": "A",
        "idpk": rng.randrange(1, 10**8),
        "code_epci": f"2{intercommunality.randrange(10**7, 10**8)}",
        "lib_epci": f"CA {ctx.commune[1]}",
    }
    if ctx.has_dvf:
        v |= {
            "dvf_datemut": ctx.mutation.strftime(fmt["dvf_datemut"]),
            "dvf_nblocmut": count("dvf_nblocmut", rng.choice((1, 1, 1, 2))),
            "dvf_nblog": count("dvf_nblog", 1),
            "dvf_valeurfonc": f"{price}.0" if "dvf_valeurfonc" in floats else _decimal(ctx, price, 2),
            "dvf_idmutation": count("dvf_idmutation", rng.randrange(10**6, 3 * 10**7)),
            "dvf_libnatmut": rng.choice(_DVF_NATURES),
            "dvf_vefa": "True" if dvf_code.endswith("1") and rng.random() < 0.5 else "False",
            "dvf_codtypbien": count("dvf_codtypbien", int(dvf_code)),
            "dvf_libtypbien": dvf_label,
            "dvf_filtre": count("dvf_filtre", 0),
            "dvf_codtypprov": rng.choice(("X1", "X1", "X1", "G1", "F6")),
            "dvf_codtypproa": rng.choice(("", "", "X1")),
        }
    ctx.local = {name: str(value) for name, value in v.items()}
    return ctx.local


def sample_value(column: str, rng: random.Random, row: dict) -> str:
    """A plausible text value of `column` (any column of the lists above) for a demo row.

    `row` holds the values already generated for this row. The choices that keep a row's columns
    consistent (commune, local, owners, dates) are kept in it under the key "_ctx", which is not a
    column: drop it before writing the row, or use `sample_row`. NULLs come back as "". LOVAC dates,
    decimal separators and float-looking counts follow the row's millésime (its `annee`). Every value is
    encodable in Windows-1252; some names and free texts carry its own characters (’ Œ œ €).
    """
    ctx = _context(row, rng, column)
    match = _RANKED.match(column)
    if match and column.startswith(("ff_", "cer_")):  # LOVAC owner groups: ff_ddenom_3, cer_ff_adresse_2...
        base = match.group(1).removeprefix("ff_")
        return _owner_values(ctx, int(match.group(2))).get(base, "")
    if not ctx.lovac and column in FF_OWNER_COLUMNS and column not in _FF_ACCOUNT_COLUMNS:
        value = _owner_values(ctx, 1).get(column)
        if value is not None:
            return value
    local = _local_values(ctx)
    if column in local:
        return local[column]
    return local.get(column.removeprefix("ff_"), "")


def sample_row(
    columns: Iterable[str], rng: random.Random, *, millesime: int | None = None, lovac: bool | None = None
) -> dict[str, str]:
    """One consistent demo row over `columns` (a LOVAC or FF list), without the hidden context."""
    columns = tuple(columns)
    if lovac is None:
        lovac = "annee" in columns or any(name.startswith(("ff_", "cer_")) for name in columns)
    year = millesime if millesime is not None else (rng.choice(sorted(LOVAC_COLUMNS)) if lovac else 2024)
    row: dict = {"_ctx": _new_row(rng, year, lovac)}
    for name in columns:
        row[name] = sample_value(name, rng, row)
    del row["_ctx"]
    return row
