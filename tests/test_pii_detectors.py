"""The content detectors of pii.yml, run as the audit runs them (DuckDB's regexp_matches): each
catches the forms real people write, and none fires on the identifiers and figures the marts hold."""

import duckdb
import pytest

from conftest import TEST_HASH_KEY
from zlv_dwh import pii, rgpd_audit

SCAN = pii.load_policy().content_scan
PATTERNS = {**SCAN["patterns"], "date_of_birth": SCAN["date_of_birth"]["pattern"]}

# Identifiers and figures of the warehouse that look like digits runs: no detector may fire on them.
LOOK_ALIKES = [
    "212704821",  # SIREN
    "21270482100015",  # SIRET
    "SIREN 212 704 821",
    "75011",  # postal code
    "67482",  # INSEE code
    "2024",
    "lovac-2024",
    "ff-2023",
    "1234.56",  # rental value
    "12 345 678 €",
    "0,45",
    "670010000001",  # local id (département + invariant)
    "67482000001",
    "01/2024",
    "2024-05",
    "Centre-ville Lyon",
    "Campagne 2 - Strasbourg",
    "réunion at home",
    "rendez-vous au point de rencontre",
    "renaissance du centre 2024",
    "6513270e-269e-4d37-b2a7-4de452e6b438",  # a uuid
    '{"status": "Suivi terminé", "subStatus": "Sortie de la vacance"}',
    '{"localities": ["67482", "67043"], "status": [0, 1]}',
]

CAUGHT = {
    "french_phone": [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06/12/34/56/78",
        "06-12-34-56-78",
        "01 - 45 - 67 - 89 - 10",
        "+33 6 12 34 56 78",
        "+33 (0)6 12 34 56 78",
        "+33(0)612345678",
        "0033 6 12 34 56 78",
        "061 234 5678",
        "06 1234 5678",
        "0612345678",
        "Appeler Mme X au 06 12 34 56 78 svp",
    ],
    "email": [
        "jean.dupont@example.fr",
        "JEAN@EXAMPLE.COM",
        "jean.dupont [at] example.fr",
        "jean.dupont(at)example.fr",
        "jean.dupont @ example . fr",
        "jean at example dot com",
        "jean [arobase] orange [point] fr",
        "contact: marie_l@wanadoo.fr.",
    ],
    "iban": ["RIB FR76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189"],
    "nir": ["1 84 12 75 123 456 78", "184127512345678", "2 69 05 2A 123 456", "2690549588157 80"],
    "birth_date_mention": [
        "née le 21 septembre 1934",
        "Mme Dupont, née le 21/09/1934",
        "né(e) le 1934-09-21",
        "date de naissance : 21.09.1934",
        "Né en 1934",
        "naissance 1934/09/21",
    ],
    "date_of_birth": [
        "21 septembre 1934",
        "1er mars 1950",
        "21 sept. 1934",
        "3 Février 1941",
        "12 aout 1960",
        "1934/09/21",
        "21/09/1934",
        "21.09.1934",
        "1934-09-21",
    ],
}

# Not personal for that detector (some are for another one).
NOT_CAUGHT = {
    "french_phone": ["01/02/2023", "01/02/2023 12:30", "FR76 3000 6000 0112 3456 7890 189"],
    "email": ["a@b", "jean.dupont"],
    "nir": ["1234567890123456"],
    "birth_date_mention": ["Campagne du 21 septembre 2024", "Envoyée le 21/09/2024 à 12:00", "maison née de la fusion"],
    "date_of_birth": [],
    "iban": ["FR76"],
}


@pytest.fixture(scope="module")
def con():
    return duckdb.connect()


def _matches(con, text: str, pattern: str) -> bool:
    return con.execute("select regexp_matches(?, ?)", [text, pattern]).fetchone()[0]


@pytest.mark.parametrize("detector", sorted(CAUGHT))
def test_each_detector_catches_the_forms_people_write(con, detector):
    missed = [text for text in CAUGHT[detector] if not _matches(con, text, PATTERNS[detector])]
    assert missed == [], f"{detector} misses {missed}"


@pytest.mark.parametrize("detector", sorted(CAUGHT))
def test_no_detector_fires_on_identifiers_figures_or_other_forms(con, detector):
    fired = [text for text in LOOK_ALIKES + NOT_CAUGHT[detector] if _matches(con, text, PATTERNS[detector])]
    assert fired == [], f"{detector} fires on {fired}"


def test_every_shipped_pattern_has_examples():
    assert set(PATTERNS) == set(CAUGHT)


def test_the_audit_reports_each_form_in_a_mart_and_ignores_keyed_hashes(tmp_path):
    """Through rgpd_audit.audit: one mart column per planted form fails with its detector; a column
    of keyed hashes (64 hex digits, long digit runs included) does not."""
    con = duckdb.connect()
    con.execute("create schema marts")
    planted = {"remark": "06/12/34/56/78", "contact": "marie [at] exemple.fr", "reference": "1 84 12 75 123 456 78"}
    select = ", ".join(f"'{v}' as c_{k}" for k, v in planted.items())
    hashes = [pii.hmac_sha256_hex(TEST_HASH_KEY, f"owner {i}") for i in range(3000)]
    con.execute(f"create table marts.notes_mart as select {select}")
    con.execute("create table marts.owners_mart as select unnest(?) as owner_key", [hashes])
    manifest = tmp_path / "manifest.json"
    nodes = {
        "model.zlv.notes_mart": {
            "resource_type": "model",
            "name": "notes_mart",
            "alias": "notes_mart",
            "schema": "marts",
            "columns": {f"c_{k}": {"meta": {"rgpd": "none"}} for k in planted},
        },
        "model.zlv.owners_mart": {
            "resource_type": "model",
            "name": "owners_mart",
            "alias": "owners_mart",
            "schema": "marts",
            "columns": {"owner_key": {"meta": {"rgpd": "pseudonymised"}}},
        },
    }
    import json

    manifest.write_text(json.dumps({"nodes": nodes}))
    report = rgpd_audit.audit(con, manifest, "r1", key=TEST_HASH_KEY)
    failed = {(c.mart, c.column_name, c.check_name) for c in report.failures}
    assert failed == {
        ("notes_mart", "c_remark", "content:french_phone"),
        ("notes_mart", "c_contact", "content:email"),
        ("notes_mart", "c_reference", "content:nir"),
    }, report.summary()
