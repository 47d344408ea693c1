"""A real owner's or user's name in a mart, in another order, case, with a title or without its
accents, is found through keyed hashes of its tokens (the names themselves are never stored)."""

import json

import duckdb
import pytest

from conftest import TEST_HASH_KEY
from zlv_dwh import pii, rgpd_audit

OWNERS = ["Hélène MARCHAND-Léger", "Jean-Pierre de La Fontaine", "SCI LES LILAS", "Martin"]
USERS = [("Zoé", "Nguyễn"), ("Marc", "Lefèvre")]


@pytest.fixture
def con():
    con = duckdb.connect()
    pii.install_key(con, TEST_HASH_KEY)
    con.execute("create temp table owners_src as select unnest(?) as full_name", [OWNERS])
    con.execute("create temp table users_src (first_name varchar, last_name varchar)")
    con.executemany("insert into users_src values (?, ?)", USERS)
    pii.record_known_names(con, "raw_production.owners.full_name", "owners_src", "full_name")
    pii.record_known_names(con, "raw_production.users.first_name+last_name", "users_src", "first_name || ' ' || last_name")
    con.execute("create schema marts")
    return con


def _hits(con, values):
    con.execute("create or replace temp table scanned as select unnest(?) as v", [values])
    return con.execute(pii.known_name_hits_sql("scanned", "v")).fetchone()[0]


@pytest.mark.parametrize(
    "text",
    [
        "Hélène MARCHAND-Léger",
        "marchand leger helene",
        "Mme Hélène Marchand",  # a subset of two of her name's tokens
        "Relancer Madame MARCHAND Hélène avant lundi",
        "LEGER Helene, née Marchand",
        "jean pierre fontaine",
        "M. Jean-Pierre DE LA FONTAINE",
        "nguyen zoe",
        "Dossier suivi par Marc LEFEVRE",
    ],
)
def test_a_known_name_is_found_in_any_form(con, text):
    assert _hits(con, [text]) == 1


@pytest.mark.parametrize(
    "text",
    ["Hélène", "Rue Marchand", "Martin", "Centre-ville Lyon", "Campagne 2024 - Strasbourg", "Marc", "Les Lilas du parc"],
)
def test_one_token_or_unrelated_text_is_not_a_name(con, text):
    assert _hits(con, [text]) == 0


def test_only_hashes_are_stored(con):
    stored = " ".join(h for (h,) in con.execute("select h from ops.known_people_hashes").fetchall())
    assert stored and all(len(h) == 64 for h in stored.split())
    for name in ("helene", "marchand", "zoe", "lefevre"):
        assert name not in stored.lower()
    # a lone surname ("Martin") gives no entry: it would match streets and companies
    assert con.execute("select count(distinct source) from ops.known_people_hashes").fetchone()[0] == 2


def test_the_audit_fails_a_mart_holding_a_users_name_in_another_order(con, tmp_path):
    con.execute("create table marts.campaigns_list as select 'Campagne suivie par LEFEVRE marc' as campaign_label")
    con.execute("create table marts.clean as select 'Centre-ville Lyon' as territory_name")
    nodes = {
        f"model.zlv.{m}": {
            "resource_type": "model",
            "name": m,
            "alias": m,
            "schema": "marts",
            "columns": {c: {"meta": {"rgpd": "none"}}},
        }
        for m, c in (("campaigns_list", "campaign_label"), ("clean", "territory_name"))
    }
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"nodes": nodes}))
    report = rgpd_audit.audit(con, manifest, "r1", key=TEST_HASH_KEY)
    assert {(c.mart, c.column_name, c.check_name) for c in report.failures} == {
        ("campaigns_list", "campaign_label", "content:known_names")
    }, report.summary()
    assert "lefevre" not in report.to_json().lower()
