"""A deterministic, ZLV-like demo: a production database and the LOCOMVAC / FF files.

Same seed and scale, same rows. Names carry accents so the Latin-1 LOVAC files are a real
encoding test, and the personal columns hold fake but realistic values so the PII handling is
exercised end to end."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import io
import os
import random
import sys
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from zlv_dwh.demo import file_layouts
from zlv_dwh.ingest_files import S3Settings, s3_client
from zlv_dwh.ingest_files import load_config as load_files_config

SCHEMA_SQL = Path(__file__).with_name("production_schema.sql")
MILLESIMES = (2024, 2025)
REFERENCE_DATE = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)

# INSEE COG 2024 extract (same communes as the dbt seed): code, name, EPCI siren, département,
# région, and the town's centre (longitude, latitude) around which its dwellings are placed.
COMMUNES = [
    ("67482", "Strasbourg", "246700488", "67", "44", 7.75, 48.58),
    ("67218", "Illkirch-Graffenstaden", "246700488", "67", "44", 7.72, 48.53),
    ("68224", "Mulhouse", "200066009", "68", "44", 7.34, 47.75),
    ("68066", "Colmar", "246800726", "68", "44", 7.36, 48.08),
    ("69123", "Lyon", "200046977", "69", "84", 4.83, 45.76),
    ("63113", "Clermont-Ferrand", "246300701", "63", "84", 3.08, 45.78),
    ("33063", "Bordeaux", "243300316", "33", "75", -0.58, 44.84),
    ("87085", "Limoges", "248719312", "87", "75", 1.26, 45.83),
    ("31555", "Toulouse", "243100518", "31", "76", 1.44, 43.60),
    ("59350", "Lille", "200093201", "59", "32", 3.06, 50.63),
    ("44109", "Nantes", "244400404", "44", "52", -1.55, 47.22),
    ("35238", "Rennes", "243500139", "35", "53", -1.68, 48.11),
]
# Kind of each EPCI of the extract, as ZLV codes établissement kinds (ME métropole, CA/CC/CU).
EPCI_KINDS = {"200066009": "CA", "246800726": "CA", "248719312": "CU"}
DEPARTEMENT_NAMES = {
    "67": "Bas-Rhin", "68": "Haut-Rhin", "69": "Rhône", "63": "Puy-de-Dôme", "33": "Gironde",
    "87": "Haute-Vienne", "31": "Haute-Garonne", "59": "Nord", "44": "Loire-Atlantique", "35": "Ille-et-Vilaine",
}  # fmt: skip
FIRST_NAMES = ["Hélène", "François", "Zoé", "Jérôme", "Anaïs", "Loïc", "Céline", "Benoît", "Agnès", "Noël", "Maëlle", "René"]
LAST_NAMES = [
    "Lefèvre",
    "Müller",
    "Dubois",
    "Garçon",
    "Gérard",
    "Hoarau",
    "Le Bihan",
    "Nguyen",
    "Martin",
    "Bernard",
    "Çelik",
    "Peña",
]
STREETS = ["rue de la République", "avenue Jean-Jaurès", "place du Marché", "rue des Écoles", "chemin des Prés"]

# The application's status vocabulary (packages/models/src/HousingStatus.ts): the integer stored in
# fast_housing.status, the slug of older event payloads, the French label of current ones.
STATUS_LABELS = ["Non suivi", "En attente de retour", "Premier contact", "Suivi en cours", "Suivi terminé", "Suivi bloqué"]
STATUS_SLUGS = ["never-contacted", "waiting", "first-contact", "in-progress", "completed", "blocked"]
SUB_STATUSES = {
    2: ["Intérêt potentiel / En réflexion", "En pré-accompagnement", "N’habite pas à l’adresse indiquée"],
    3: ["En accompagnement", "Intervention publique", "En sortie sans accompagnement", "Mutation en cours ou effectuée"],
    4: ["Sortie de la vacance", "Sortie de la vacance", "N'était pas vacant", "Autre objectif rempli"],
    5: ["Blocage involontaire du propriétaire", "Blocage volontaire du propriétaire", "Tiers en cause"],
}
EXIT_FROM_VACANCY = (4, "Sortie de la vacance")
# Events written before this date carry slugs or integers instead of labels, as ZLV's older ones do.
LABELS_SINCE = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
FREE_TEXT_NOTES = [
    "Propriétaire joint par téléphone, rappeler Mme {name} au {phone}",
    "Courrier retourné, {name} n'habite plus à l'adresse",
    "RDV pris avec M. {name} ({email}) pour une visite",
    "Logement en travaux, pas de contact",
]


@dataclass
class Demo:
    """Everything generated, kept in memory so files and database agree."""

    tables: dict[str, list[dict]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()}


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _ts(rng: random.Random, days_back_max: int, days_back_min: int = 0) -> dt.datetime:
    return REFERENCE_DATE - dt.timedelta(days=rng.randint(days_back_min, days_back_max), seconds=rng.randint(0, 86399))


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def _phone(rng: random.Random) -> str:
    return f"0{rng.choice([6, 7])} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}"


def _square(lon: float, lat: float, half: float) -> str:
    """A one-square MultiPolygon around a point, as PostGIS reads it (EWKT, SRID 4326)."""
    x0, x1, y0, y1 = lon - half, lon + half, lat - half, lat + half
    return f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def status_payload(status: int, sub_status: str | None, at: dt.datetime, rng: random.Random) -> dict:
    """The `next_old` / `next_new` payload of a housing:status-updated event, in the form the app
    wrote at that date: a French label now, a slug or an integer (number or text) before."""
    if at >= LABELS_SINCE:
        value: object = STATUS_LABELS[status]
    else:
        value = rng.choice([STATUS_SLUGS[status], status, str(status)])
    return {"status": value, "subStatus": sub_status}


def build(seed: int = 42, scale: int = 2000) -> Demo:
    """Generate `scale` dwellings and everything around them."""
    rng = random.Random(seed)
    demo = Demo()
    t = demo.tables
    t["localities"] = [
        {
            "id": _uuid(rng),
            "geo_code": c,
            "name": n,
            "locality_kind": rng.choice([None, "ACV", "PVD"]),
            "tax_kind": rng.choice(["TLV", "THLV", "None"]),
            "tax_rate": rng.choice([None, 17.0, 34.0]),
        }
        for c, n, *_ in COMMUNES
    ]

    establishments = []
    for code, name, *_ in COMMUNES:
        establishments.append({"name": f"Commune de {name}", "kind": "COM", "codes": [code]})
    for siren in sorted({c[2] for c in COMMUNES}):
        codes = [c[0] for c in COMMUNES if c[2] == siren]
        establishments.append({"name": f"EPCI {siren}", "kind": EPCI_KINDS.get(siren, "ME"), "codes": codes, "siren": int(siren)})
    for dep in sorted({c[3] for c in COMMUNES}):
        codes = [c[0] for c in COMMUNES if c[3] == dep]
        establishments.append({"name": f"DDT {DEPARTEMENT_NAMES[dep]}", "kind": "SDED", "codes": codes})
    t["establishments"] = []
    for e in establishments:
        deps = sorted({c[3] for c in COMMUNES if c[0] in e["codes"]})
        regs = sorted({c[4] for c in COMMUNES if c[0] in e["codes"]})
        siren = e.get("siren", rng.randint(200000000, 299999999))
        t["establishments"].append(
            {
                "id": _uuid(rng),
                "name": e["name"],
                "siren": siren,
                "siret": f"{siren}{rng.randint(10000, 99999)}",
                "kind": e["kind"],
                "kind_admin": None,
                "kind_admin_meta": None,
                "layer_geo_label": None,
                "localities_geo_code": e["codes"],
                "dep_code": deps,
                "dep_name": DEPARTEMENT_NAMES[deps[0]] if len(deps) == 1 else None,
                "reg_code": regs,
                "reg_name": None,
                "millesime": "2024",
                "source": "seed",
                "available": rng.random() < 0.8,
                "updated_at": _ts(rng, 400),
                "deleted_at": None,
                "suspended_at": None,
                "suspended_cause": None,
            }
        )

    t["users"] = []
    for e in t["establishments"]:
        if not e["available"]:
            continue
        for _ in range(rng.randint(0, 4)):
            first, last = _person(rng)
            activated = _ts(rng, 700, 30)
            two_factor = rng.random() < 0.3
            t["users"].append(
                {
                    "id": _uuid(rng),
                    "email": f"{first}.{last}.{len(t['users'])}@collectivite.example".lower().replace(" ", ""),
                    "password": "$2b$10$" + f"{rng.getrandbits(128):032x}",
                    "first_name": first,
                    "last_name": last,
                    "phone": _phone(rng),
                    # free text typed by the user: sometimes a phone number
                    "position": rng.choice(["Chargée de mission", "Agent", "Élu", f"Chargé de mission, tél. {_phone(rng)}"]),
                    "time_per_week": rng.choice([None, "Moins de 1 jour", "1 jour", "Plus de 2 jours"]),
                    "kind": rng.choice([None, "Collectivité", "Service de l'État"]),
                    "establishment_id": e["id"],
                    "role": rng.choice([0, 0, 0, 1, 2]),
                    "activated_at": activated,
                    "last_authenticated_at": _ts(rng, 200) if rng.random() < 0.8 else None,
                    "suspended_at": None,
                    "suspended_cause": None,
                    "deleted_at": None,
                    "updated_at": _ts(rng, 30),
                    "two_factor_secret": f"{rng.getrandbits(160):040X}" if two_factor else None,
                    "two_factor_enabled_at": _ts(rng, 300) if two_factor else None,
                    "two_factor_code": f"{rng.randint(0, 999999):06d}" if two_factor else None,
                    "two_factor_code_generated_at": _ts(rng, 30) if two_factor else None,
                    "two_factor_failed_attempts": rng.choice([0, 0, 1]),
                    "two_factor_locked_until": None,
                }
            )
    users_by_est: dict = {}
    for u in t["users"]:
        users_by_est.setdefault(u["establishment_id"], []).append(u)
    any_user = t["users"][0]["id"]

    t["buildings"], t["fast_housing"] = [], []
    buildings_by_code: dict = {}
    for i in range(scale):
        code, _name, _epci, _dep, _reg, lon0, lat0 = rng.choice(COMMUNES)
        if rng.random() < 0.3 or not buildings_by_code.get(code):
            building = {
                "id": f"{code}{len(t['buildings']):07d}",
                "housing_count": 0,
                "vacant_housing_count": 0,
                "rent_housing_count": None,
                "rnb_id": f"RNB{rng.getrandbits(40):010X}" if rng.random() < 0.7 else None,
                "rnb_id_score": rng.choice([None, 8, 9]),
                "rnb_footprint": rng.choice([None, 1, 2]),
                "class_dpe": rng.choice([None, "A", "B", "C", "D", "E", "F", "G"]),
                "class_ges": rng.choice([None, "A", "B", "C", "D", "E", "F", "G"]),
                "dpe_id": None,
                "dpe_date_at": (REFERENCE_DATE - dt.timedelta(days=rng.randint(30, 2000))).date(),
                "dpe_type": rng.choice([None, "dpe immeuble", "dpe logement"]),
                "dpe_import_match": None,
                "heating_building": None,
            }
            t["buildings"].append(building)
            buildings_by_code.setdefault(code, []).append(building)
        building = rng.choice(buildings_by_code[code])
        invariant = f"{i * 7919 + 1000003:010d}"
        vacancy_start = rng.choice([None, *range(2005, 2025)])
        occupancy = rng.choice(["V", "V", "V", "L", "P", "A"])
        building["housing_count"] += 1
        building["vacant_housing_count"] += occupancy == "V"
        lon, lat = round(lon0 + rng.uniform(-0.03, 0.03), 6), round(lat0 + rng.uniform(-0.03, 0.03), 6)
        last_transaction = REFERENCE_DATE - dt.timedelta(days=rng.randint(100, 9000)) if rng.random() < 0.6 else None
        t["fast_housing"].append(
            {
                "id": _uuid(rng),
                "invariant": invariant,
                "local_id": code[:2] + invariant,
                "building_id": building["id"],
                "building_group_id": None,
                "building_location": None,
                "plot_id": f"{code}000A{rng.randint(1, 9999):04d}",
                "geo_code": code,
                "address_dgfip": [f"{rng.randint(1, 120)} {rng.choice(STREETS).upper()}", f"{code} VILLE"],
                "longitude_dgfip": lon,
                "latitude_dgfip": lat,
                "geolocation": f"SRID=4326;POINT({lon} {lat})",
                "geolocation_source": "ban",
                "cadastral_classification": rng.randint(1, 8),
                "cadastral_reference": None,
                "uncomfortable": rng.random() < 0.1,
                "vacancy_start_year": vacancy_start,
                "housing_kind": rng.choice(["APPART", "MAISON"]),
                "rooms_count": rng.randint(1, 7),
                "living_area": round(rng.uniform(15, 180), 2),
                "building_year": rng.randint(1850, 2020),
                "mutation_date": (REFERENCE_DATE - dt.timedelta(days=rng.randint(100, 9000))).date(),
                "last_mutation_date": last_transaction,
                "last_transaction_date": last_transaction,
                "last_transaction_value": rng.randint(30000, 600000) if last_transaction else None,
                "taxed": rng.random() < 0.5,
                "rental_value": rng.randint(500, 9000),
                "condominium": rng.choice([None, "CL", "CV"]),
                "beneficiary_count": rng.choice([None, 1, 2]),
                "data_years": [2024],
                "data_file_years": [f"lovac-{m}" for m in MILLESIMES if rng.random() < 0.7] + ["ff-2024"],
                "data_source": "lovac",
                "status": 0,
                "sub_status": None,
                "occupancy": occupancy,
                "occupancy_source": "L",
                "occupancy_intended": None,
                "occupancy_history": None,
                "energy_consumption_bdnb": rng.choice([None, "A", "B", "C", "D", "E", "F", "G"]),
                "energy_consumption_at_bdnb": None,
                "actual_dpe": None,
                "plot_area": rng.choice([None, rng.randint(50, 5000)]),
            }
        )

    t["owners"], t["owners_housing"] = [], []
    for h in t["fast_housing"]:
        for rank in range(1, rng.choice([2, 2, 2, 3])):
            first, last = _person(rng)
            owner_id = _uuid(rng)
            birth = dt.datetime(1930, 1, 1) + dt.timedelta(days=rng.randint(0, 25000))
            # `administrator` is free text: an agency, or a person with their phone number
            administrator = rng.choice(
                [None, None, None, None, "Agence Immo Centre", f"{rng.choice(LAST_NAMES).upper()} {first} - {_phone(rng)}"]
            )
            t["owners"].append(
                {
                    "id": owner_id,
                    "idpersonne": f"{h['geo_code'][:2]}{rng.randint(0, 10**8):08d}",
                    "full_name": f"{last.upper()} {first}",
                    "administrator": administrator,
                    "username": None,
                    "birth_date": birth,
                    "siren": None,
                    "address_dgfip": [f"{rng.randint(1, 99)} {rng.choice(STREETS)}", "75011 PARIS"],
                    "additional_address": rng.choice([None, "Bâtiment B"]),
                    "email": f"{first}.{last}@exemple.fr".lower().replace(" ", "") if rng.random() < 0.3 else None,
                    "phone": _phone(rng) if rng.random() < 0.2 else None,
                    "kind_class": rng.choice(["Particulier", "Particulier", "SCI-Copro-Autre"]),
                    "entity": None,
                    "data_source": "ff-2024",
                    "is_multi_owner": rank > 1,
                    "do_not_contact": rng.random() < 0.02,
                    "created_at": _ts(rng, 900, 300),
                    "updated_at": _ts(rng, 300) if rng.random() < 0.5 else None,
                }
            )
            t["owners_housing"].append(
                {
                    "owner_id": owner_id,
                    "housing_id": h["id"],
                    "housing_geo_code": h["geo_code"],
                    "rank": rank,
                    "start_date": h["mutation_date"],
                    "end_date": None,
                    "origin": "lovac",
                    "idprocpte": f"{h['geo_code']}{rng.randint(0, 99999):05d}",
                    "idprodroit": f"{h['geo_code']}{len(t['owners_housing']):07d}{rank:02d}",
                    "property_right": rng.choice(["proprietaire", "usufruitier"]),
                    "locprop_source": None,
                    "locprop_relative_ban": None,
                    "locprop_distance_ban": None,
                }
            )
    owner_of = {oh["housing_id"]: oh for oh in t["owners_housing"] if oh["rank"] == 1}
    owners_by_id = {o["id"]: o for o in t["owners"]}
    housing_by_code: dict = {}
    for h in t["fast_housing"]:
        housing_by_code.setdefault(h["geo_code"], []).append(h)

    for name in ("events", "housing_events", "owner_events", "group_housing_events", "housing_document_events"):
        t[name] = []

    def event(kind: str, old, new, at: dt.datetime, by) -> uuid.UUID:
        event_id = _uuid(rng)
        t["events"].append(
            {
                "id": event_id,
                "type": kind,
                "next_old": None if old is None else Jsonb(old),
                "next_new": None if new is None else Jsonb(new),
                "created_at": min(at, REFERENCE_DATE),
                "created_by": by,
            }
        )
        return event_id

    def housing_event(kind: str, h: dict, old, new, at: dt.datetime, by) -> uuid.UUID:
        event_id = event(kind, old, new, at, by)
        t["housing_events"].append({"event_id": event_id, "housing_id": h["id"], "housing_geo_code": h["geo_code"]})
        return event_id

    for h in t["fast_housing"]:
        housing_event(
            "housing:created", h, None, {"source": "lovac-2024", "occupancy": h["occupancy"]}, _ts(rng, 900, 700), any_user
        )

    t["groups"], t["groups_housing"], t["campaigns"], t["campaigns_housing"] = [], [], [], []
    t["geo_perimeters"] = []
    for e in t["establishments"]:
        users = users_by_est.get(e["id"])
        if not users:
            continue
        pool = [h for code in e["localities_geo_code"] for h in housing_by_code.get(code, [])]
        # a perimeter drawn around the first commune's centre (dwellings lie up to 0.03° away)
        centre = next(c for c in COMMUNES if c[0] == e["localities_geo_code"][0])
        if rng.random() < 0.6:
            t["geo_perimeters"].append(
                {
                    "id": _uuid(rng),
                    "establishment_id": e["id"],
                    "name": f"Centre-ville {centre[1]}",
                    "kind": rng.choice(["OPAH", "ORT", "Quartier"]),
                    "geom": _square(centre[5], centre[6], 0.02),
                    "created_at": _ts(rng, 500),
                    "created_by": rng.choice(users)["id"],
                }
            )
        groups = []
        for g in range(rng.randint(0, 2)):
            members = rng.sample(pool, min(len(pool), rng.randint(3, 15)))
            group = {
                "id": _uuid(rng),
                "title": f"Groupe {g + 1} - {e['name']}",
                "description": "Logements du centre ancien",
                "user_id": rng.choice(users)["id"],
                "establishment_id": e["id"],
                "created_at": _ts(rng, 500, 60),
                "exported_at": None,
                # some groups are archived: their dwellings no longer count as grouped
                "archived_at": REFERENCE_DATE - dt.timedelta(days=rng.randint(1, 50)) if rng.random() < 0.2 else None,
                "housing_count": len(members),
                "owner_count": len({owner_of[h["id"]]["owner_id"] for h in members if h["id"] in owner_of}),
            }
            t["groups"].append(group)
            groups.append(group)
            for h in members:
                t["groups_housing"].append({"group_id": group["id"], "housing_id": h["id"], "housing_geo_code": h["geo_code"]})
                event_id = event("housing:group-attached", None, {"name": group["title"]}, group["created_at"], group["user_id"])
                t["group_housing_events"].append(
                    {"event_id": event_id, "group_id": group["id"], "housing_id": h["id"], "housing_geo_code": h["geo_code"]}
                )
        for n in range(rng.randint(0, 3)):
            created = _ts(rng, 500, 60)
            status = rng.choice(["draft", "sending", "in-progress", "in-progress", "archived"])
            validated = created + dt.timedelta(days=rng.randint(1, 10)) if status != "draft" else None
            sent = validated + dt.timedelta(days=rng.randint(1, 20)) if status in ("in-progress", "archived") else None
            user = rng.choice(users)
            owner = owners_by_id[owner_of[pool[0]["id"]]["owner_id"]] if pool and pool[0]["id"] in owner_of else None
            # titles and saved searches are typed by agents: sometimes an owner's name
            title = f"Campagne {n + 1} - {e['name']}" if rng.random() < 0.85 or owner is None else f"Relance {owner['full_name']}"
            filters = {"occupancies": ["V"], "localities": e["localities_geo_code"], "status": [0, 1]}
            if owner is not None and rng.random() < 0.2:
                filters["query"] = owner["full_name"]
            campaign = {
                "id": _uuid(rng),
                "title": title,
                "description": None,
                "status": status,
                "filters": Jsonb(filters),
                "file": None,
                "user_id": user["id"],
                "establishment_id": e["id"],
                "group_id": rng.choice(groups)["id"] if groups and rng.random() < 0.5 else None,
                "created_at": created,
                "validated_at": validated,
                "confirmed_at": validated,
                "exported_at": validated,
                "sent_at": sent,
                "archived_at": sent + dt.timedelta(days=120) if status == "archived" else None,
                "housing_count": 0,
                "owner_count": 0,
                "return_count": 0,
                "return_rate": None,
                "recovery_id": None,
                "campaign_number_deprecated": None,
                "kind_deprecated": None,
                "reminder_number_deprecated": None,
                "start_month_deprecated": None,
            }
            t["campaigns"].append(campaign)
            members = rng.sample(pool, min(len(pool), rng.randint(5, 40)))
            campaign["housing_count"] = len(members)
            campaign["owner_count"] = len({owner_of[h["id"]]["owner_id"] for h in members if h["id"] in owner_of})
            for h in members:
                t["campaigns_housing"].append(
                    {"campaign_id": campaign["id"], "housing_id": h["id"], "housing_geo_code": h["geo_code"], "advice": None}
                )
                housing_event("housing:campaign-attached", h, None, {"name": campaign["title"]}, created, user["id"])
                if not sent:
                    continue
                at, status_now, sub_now = sent, h["status"], h["sub_status"]
                for new_status in sorted(rng.sample([1, 2, 3, 4, 5], rng.randint(0, 3))):
                    if new_status <= status_now:
                        continue
                    at = at + dt.timedelta(days=rng.randint(3, 90))
                    sub_new = rng.choice(SUB_STATUSES[new_status]) if new_status in SUB_STATUSES and rng.random() < 0.8 else None
                    old = status_payload(status_now, sub_now, at, rng)
                    new = status_payload(new_status, sub_new, at, rng)
                    if rng.random() < 0.05:  # an agent's remark pasted into the payload: never copied
                        new["comment"] = f"Rappeler {owners_by_id[owner_of[h['id']]['owner_id']]['full_name']} au {_phone(rng)}"
                    housing_event("housing:status-updated", h, old, new, at, user["id"])
                    if (new_status, sub_new) == EXIT_FROM_VACANCY and h["occupancy"] == "V":
                        housing_event(
                            "housing:occupancy-updated",
                            h,
                            {"occupancy": "V", "occupancyIntended": None},
                            {"occupancy": "L", "occupancyIntended": None},
                            at + dt.timedelta(minutes=5),
                            user["id"],
                        )
                        h["occupancy"] = "L"
                    status_now, sub_now = new_status, sub_new
                h["status"], h["sub_status"] = status_now, sub_now
                if status_now >= 2:
                    campaign["return_count"] += 1
            if campaign["housing_count"]:
                campaign["return_rate"] = round(campaign["return_count"] / campaign["housing_count"], 4)

    # Events quoting owners' details: owner edits (linked in owner_events), owner attachments and
    # documents named after the owner (linked to the housing).
    for oh in rng.sample(t["owners_housing"], min(20, len(t["owners_housing"]))):
        owner = owners_by_id[oh["owner_id"]]
        event_id = event(
            "owner:updated",
            {"fullName": owner["full_name"], "email": None},
            {"fullName": owner["full_name"], "email": owner["email"], "phone": owner["phone"]},
            _ts(rng, 100),
            any_user,
        )
        t["owner_events"].append({"event_id": event_id, "owner_id": owner["id"]})
        h = next(x for x in t["fast_housing"] if x["id"] == oh["housing_id"])
        housing_event(
            "housing:owner-attached", h, None, {"name": owner["full_name"], "rank": oh["rank"]}, _ts(rng, 100), any_user
        )
        event_id = event(
            "housing:document-attached", None, {"filename": f"courrier_{owner['full_name']}.pdf"}, _ts(rng, 100), any_user
        )
        t["housing_document_events"].append(
            {"event_id": event_id, "document_id": _uuid(rng), "housing_id": h["id"], "housing_geo_code": h["geo_code"]}
        )

    # Notes typed by agents (free text quoting owners), some soft-deleted (deleted_at only).
    t["notes"], t["housing_notes"], t["owner_notes"] = [], [], []
    for oh in rng.sample(t["owners_housing"], min(40, len(t["owners_housing"]))):
        owner = owners_by_id[oh["owner_id"]]
        created = _ts(rng, 400, 10)
        note = {
            "id": _uuid(rng),
            "content": rng.choice(FREE_TEXT_NOTES).format(
                name=owner["full_name"], phone=_phone(rng), email=owner["email"] or "-"
            ),
            "note_kind": rng.choice(["Note courante", "Appel", "Visite"]),
            "created_by": any_user,
            "created_at": created,
            "updated_at": created + dt.timedelta(days=rng.randint(0, 5)) if rng.random() < 0.3 else None,
            "deleted_at": created + dt.timedelta(days=rng.randint(1, 9)) if rng.random() < 0.1 else None,
            "title_deprecated": None,
            "contact_kind_deprecated": None,
        }
        t["notes"].append(note)
        if rng.random() < 0.7:
            t["housing_notes"].append(
                {"note_id": note["id"], "housing_id": oh["housing_id"], "housing_geo_code": oh["housing_geo_code"]}
            )
        else:
            t["owner_notes"].append({"note_id": note["id"], "owner_id": owner["id"]})

    _build_files(rng, demo, owner_of, owners_by_id)
    return demo


def _csv_bytes(header: list[str], rows: list[list], delimiter: str, encoding: str, gz: bool) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    data = buf.getvalue().encode(encoding)
    return gzip.compress(data, mtime=0) if gz else data


def _real_layout_csv(columns: tuple[str, ...], rows: list[dict], delimiter: str, null: str, encoding: str, gz: bool) -> bytes:
    """A file in a real layout: every column of that millésime in its order, the rest of each row
    filled with plausible values (file_layouts.sample_row), NULLs written as that year wrote them."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([null if row.get(c) in (None, "") else row[c] for c in columns])
    data = buf.getvalue().encode(encoding)
    return gzip.compress(data, mtime=0) if gz else data


def _build_files(rng: random.Random, demo: Demo, owner_of: dict, owners_by_id: dict) -> None:
    """LOVAC and FF files as Cerema delivers them (zlv_dwh.demo.file_layouts): the real column set
    and order of each millésime (~140-150 LOVAC columns, owners 1..6), its delimiter and NULL
    marker, Windows-1252 bytes (’ œ €), ff_idlocal repeated at the real rate; FF pb0010_local and
    proprietaire_droit with their delivered columns. The values the warehouse reads come from the
    demo's dwellings and owners, so the raw counts can be checked against the production tables."""
    co_owners = {}
    for oh in demo.tables["owners_housing"]:
        co_owners.setdefault(oh["housing_id"], []).append(oh)
    for millesime in MILLESIMES:
        fmt = file_layouts.lovac_format(millesime)
        lovac_columns = file_layouts.LOVAC_COLUMNS[millesime]
        birth = fmt.get("ff_jdatnss", "%d/%m/%Y")
        lovac, ff, ffo = [], [], []
        for h in demo.tables["fast_housing"]:
            links = sorted(co_owners.get(h["id"], []), key=lambda oh: oh["rank"])
            owners = [owners_by_id[oh["owner_id"]] for oh in links]
            vacant = h["occupancy"] == "V" and h["vacancy_start_year"] is not None and h["vacancy_start_year"] < millesime
            if vacant and rng.random() < 0.95:
                row = file_layouts.sample_row(lovac_columns, rng, millesime=millesime, lovac=True)
                row.update(
                    {
                        "annee": millesime,
                        "ff_millesime": millesime - 1,
                        "invariant": h["invariant"],
                        "ff_idlocal": h["local_id"],
                        "ccodep": h["geo_code"][:2],
                        "commune": h["geo_code"][2:],
                        "groupe": rng.choice([0, 0, 0, 0, 0, 4, 9]),
                        "aff": "H",
                        "nature": h["housing_kind"],
                        "debutvacance": h["vacancy_start_year"],
                        "vlcad": h["rental_value"],
                        # LOVAC is the vacancy-tax file: most lines say vacant in FF too, not all
                        # (what the 2019-2024 public criterion, fil_ccthp, filters out)
                        "ff_ccthp": "L" if zlib.crc32(f"{h['local_id']}/{millesime}".encode()) % 8 == 0 else "V",
                        "ff_stoth": int(h["living_area"]),
                        "ff_npiece_p2": h["rooms_count"],
                        "ff_jannath": h["building_year"],
                        "ban_latitude": h["latitude_dgfip"],
                        "ban_longitude": h["longitude_dgfip"],
                        "proprietaire": owners[0]["full_name"] if owners else None,
                        "adresse1": owners[0]["address_dgfip"][0] if owners else None,
                        "adresse2": owners[0]["address_dgfip"][1] if owners else None,
                    }
                )
                for rank in range(1, 7):  # the owners' columns of the real layout, from the demo's owners
                    o = owners[rank - 1] if rank <= len(owners) else None
                    for column, value in (
                        (f"ff_idpersonne_{rank}", o and o["idpersonne"]),
                        (f"ff_ddenom_{rank}", o and o["full_name"]),
                        (f"ff_jdatnss_{rank}", o and o["birth_date"].strftime(birth)),
                    ):
                        if column in lovac_columns:
                            row[column] = value
                lovac.append(row)
            ff_row = file_layouts.sample_row(file_layouts.FF_LOCAL_COLUMNS, rng, millesime=millesime, lovac=False)
            ff_row.update(
                {
                    "idlocal": h["local_id"],
                    "idbat": h["building_id"],
                    "idpar": h["plot_id"],
                    "idcom": h["geo_code"],
                    "dteloc": 1 if h["housing_kind"] == "MAISON" else 2,
                    "ccthp": h["occupancy"],
                    "jannath": h["building_year"],
                    "stoth": int(h["living_area"]),
                    "npiece_p2": h["rooms_count"],
                    "loghvac": 1 if vacant else 0,
                    "ndroit": len(owners),
                    "catpro3": rng.choice(["PPH", "PPH", "PMS", "PCO"]),
                }
            )
            ff.append(ff_row)
            for oh, o in zip(links, owners, strict=True):
                owner_row = file_layouts.sample_row(file_layouts.FF_OWNER_COLUMNS, rng, millesime=millesime, lovac=False)
                owner_row.update(
                    {
                        "idprodroit": oh["idprodroit"],
                        "idprocpte": oh["idprocpte"],
                        "idpersonne": o["idpersonne"],
                        "idcom": h["geo_code"],
                        "ccodro": "P",
                        "ccogrm": 0,
                        "ddenom": o["full_name"],
                        "dlign3": o["address_dgfip"][0],
                        "dlign4": o["address_dgfip"][1],
                        "jdatnss": o["birth_date"].strftime("%d/%m/%Y"),
                        "dldnss": "PARIS",
                        "dsiren": None,
                    }
                )
                ffo.append(owner_row)
        distinct = len(lovac)
        # what each kept line says, for the tests to count the indicators by hand
        demo.tables.setdefault("_lovac_lines", []).extend(
            {
                k: row[k]
                for k in ("annee", "ff_idlocal", "ccodep", "commune", "aff", "nature", "groupe", "debutvacance", "ff_ccthp")
            }
            for row in lovac
        )
        rate = file_layouts.LOVAC_DUPLICATE_RATE.get(millesime, 0.0)
        # ff_idlocal repeated as in the real file (at least once, so the rule is exercised): the
        # repeated line has an earlier vacancy start, so ZLV's rule keeps the original one
        for original in rng.sample(lovac, min(distinct, max(1, round(rate * distinct)))) if rate and lovac else []:
            repeated = dict(original, debutvacance=int(original["debutvacance"]) - 1, vlcad=0)
            lovac.insert(rng.randrange(len(lovac) + 1), repeated)
        demo.files[f"lake/cerema/lovac/{millesime}/raw.csv"] = _real_layout_csv(
            lovac_columns, lovac, fmt["delimiter"], fmt.get("null", ""), "cp1252", gz=False
        )
        demo.files[f"lake/cerema/ff/{millesime}/raw.csv.gz"] = _real_layout_csv(
            file_layouts.FF_LOCAL_COLUMNS, ff, ",", "", "utf-8", gz=True
        )
        demo.files[f"lake/cerema/ff/{millesime}/owners.csv.gz"] = _real_layout_csv(
            file_layouts.FF_OWNER_COLUMNS, ffo, ",", "", "utf-8", gz=True
        )
        demo.tables.setdefault("_files", []).append(
            {"millesime": millesime, "lovac": distinct, "ff_housing": len(ff), "ff_owners": len(ffo)}
        )
        demo.tables.setdefault("_lovac_repeated", []).append({"millesime": millesime, "lines": len(lovac) - distinct})


# The tables of production_schema.sql, parents before children (the COPY order).
PRODUCTION_TABLES = (
    "localities",
    "establishments",
    "users",
    "buildings",
    "fast_housing",
    "owners",
    "owners_housing",
    "groups",
    "groups_housing",
    "campaigns",
    "campaigns_housing",
    "events",
    "housing_events",
    "owner_events",
    "group_housing_events",
    "housing_document_events",
    "geo_perimeters",
    "notes",
    "housing_notes",
    "owner_notes",
)


def write_production(demo: Demo, db_url: str) -> None:
    """Create the production schema in an empty database and COPY the rows in."""
    with psycopg.connect(db_url) as con:
        con.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
        for table in PRODUCTION_TABLES:
            rows = demo.tables[table]
            if not rows:
                continue
            cols = list(rows[0])
            with con.cursor().copy(f"copy {table} ({', '.join(cols)}) from stdin") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in cols])


def upload_files(demo: Demo, endpoint_url: str, access_key: str, secret_key: str, bucket: str) -> None:
    s3 = s3_client(S3Settings(endpoint_url, access_key, secret_key))
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    for key, body in demo.files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def file_row_counts(demo: Demo) -> dict[str, int]:
    """Rows per raw file dataset, summed over millésimes (what the warehouse must hold)."""
    totals: dict[str, int] = {}
    for entry in demo.tables.get("_files", []):
        for k, v in entry.items():
            if k != "millesime":
                totals[k] = totals.get(k, 0) + v
    return totals


def production_row_counts(demo: Demo) -> dict[str, int]:
    return {k: len(v) for k, v in demo.tables.items() if not k.startswith("_")}


def seed_production(demo: Demo, db_url: str, replace: bool = False) -> bool:
    """Write the demo tables into the database at db_url unless they are there already (then
    nothing changes, so a seeding service can run at every start); `replace` recreates them.
    Returns whether the tables were written."""
    with psycopg.connect(db_url, autocommit=True) as con:
        present = [t for t in PRODUCTION_TABLES if con.execute("select to_regclass(%s)", [f"public.{t}"]).fetchone()[0]]
        if present and not replace:
            return False
        for table in reversed(PRODUCTION_TABLES):
            con.execute(f"drop table if exists public.{table} cascade")
    write_production(demo, db_url)
    return True


def main(argv: list[str] | None = None) -> int:
    """Seed a demo 'production' database and an S3 bucket (the `demo-seed` service of docker-compose.yaml).

    Credentials come from the environment, not the command line (which other users can list)."""
    parser = argparse.ArgumentParser(description="Seed the demo production database and the demo LOCOMVAC / FF files.")
    parser.add_argument("--scale", type=int, default=int(os.environ.get("ZLV_DEMO_SCALE", 2000)), help="dwellings to generate")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bucket", default=load_files_config().bucket, help="default: the bucket of file_families.yml")
    parser.add_argument("--replace", action="store_true", help="recreate the demo tables when they exist")
    parser.add_argument("--skip-files", action="store_true", help="only the database")
    args = parser.parse_args(argv)
    db_url = os.environ.get("ZLV_DEMO_PRODUCTION_URL")
    s3_url = os.environ.get("ZLV_DEMO_S3_URL")
    if not db_url or not (s3_url or args.skip_files):
        print(
            "set ZLV_DEMO_PRODUCTION_URL (the demo database) and ZLV_DEMO_S3_URL, ZLV_DEMO_S3_ACCESS_KEY, ZLV_DEMO_S3_SECRET_KEY",
            file=sys.stderr,
        )
        return 2
    demo = build(seed=args.seed, scale=args.scale)
    written = seed_production(demo, db_url, replace=args.replace)
    if written:
        print("production tables written: " + ", ".join(f"{t} {n}" for t, n in production_row_counts(demo).items()))
    else:
        print("production tables already there, kept (--replace recreates them)")
    reader_password = os.environ.get("ZLV_DEMO_READER_PASSWORD")
    if reader_password:  # the SELECT-only login Airflow reads with (source_guard refuses the owner account)
        from zlv_dwh.demo import services

        role = os.environ.get("ZLV_DEMO_READER_USER", "zlv_dwh_reader")
        services.create_reader(db_url, role, reader_password)
        print(f"read-only login {role} ready (SELECT only, sessions read-only)")
    if not args.skip_files:
        upload_files(
            demo, s3_url, os.environ.get("ZLV_DEMO_S3_ACCESS_KEY", ""), os.environ.get("ZLV_DEMO_S3_SECRET_KEY", ""), args.bucket
        )
        print(f"{len(demo.files)} LOCOMVAC / FF files uploaded to s3://{args.bucket}/lake/cerema/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
