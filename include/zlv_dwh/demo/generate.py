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
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from zlv_dwh.ingest_files import S3Settings, s3_client
from zlv_dwh.ingest_files import load_config as load_files_config

SCHEMA_SQL = Path(__file__).with_name("production_schema.sql")
MILLESIMES = (2024, 2025)
REFERENCE_DATE = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)

# INSEE COG 2024 extract (same communes as the dbt seed): code, name, EPCI siren, département, région.
COMMUNES = [
    ("67482", "Strasbourg", "246700488", "67", "44"),
    ("67218", "Illkirch-Graffenstaden", "246700488", "67", "44"),
    ("68224", "Mulhouse", "200066009", "68", "44"),
    ("68066", "Colmar", "246800726", "68", "44"),
    ("69123", "Lyon", "200046977", "69", "84"),
    ("63113", "Clermont-Ferrand", "246300701", "63", "84"),
    ("33063", "Bordeaux", "243300316", "33", "75"),
    ("87085", "Limoges", "248719312", "87", "75"),
    ("31555", "Toulouse", "243100518", "31", "76"),
    ("59350", "Lille", "200093201", "59", "32"),
    ("44109", "Nantes", "244400404", "44", "52"),
    ("35238", "Rennes", "243500139", "35", "53"),
]
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


def build(seed: int = 42, scale: int = 2000) -> Demo:
    """Generate `scale` dwellings and everything around them."""
    rng = random.Random(seed)
    demo = Demo()
    t = demo.tables
    t["localities"] = [
        {
            "geo_code": c,
            "name": n,
            "locality_kind": rng.choice([None, "ACV", "PVD"]),
            "tax_kind": rng.choice(["TLV", "THLV", "None"]),
        }
        for c, n, *_ in COMMUNES
    ]

    establishments = []
    for code, name, *_ in COMMUNES:
        establishments.append({"name": f"Commune de {name}", "kind": "Commune", "codes": [code]})
    for siren in sorted({c[2] for c in COMMUNES}):
        codes = [c[0] for c in COMMUNES if c[2] == siren]
        establishments.append({"name": f"EPCI {siren}", "kind": "EPCI", "codes": codes, "siren": int(siren)})
    for dep in sorted({c[3] for c in COMMUNES}):
        codes = [c[0] for c in COMMUNES if c[3] == dep]
        establishments.append({"name": f"DDT {dep}", "kind": "DDT", "codes": codes})
    t["establishments"] = []
    for e in establishments:
        dep = {c[3] for c in COMMUNES if c[0] in e["codes"]}
        reg = {c[4] for c in COMMUNES if c[0] in e["codes"]}
        t["establishments"].append(
            {
                "id": _uuid(rng),
                "name": e["name"],
                "siren": e.get("siren", rng.randint(200000000, 299999999)),
                "kind": e["kind"],
                "localities_geo_code": e["codes"],
                "dep_code": dep.pop() if len(dep) == 1 else None,
                "reg_code": reg.pop() if len(reg) == 1 else None,
                "available": rng.random() < 0.8,
                "updated_at": _ts(rng, 400),
                "deleted_at": None,
            }
        )

    t["users"] = []
    for e in t["establishments"]:
        if not e["available"]:
            continue
        for _ in range(rng.randint(0, 4)):
            first, last = _person(rng)
            activated = _ts(rng, 700, 30)
            t["users"].append(
                {
                    "id": _uuid(rng),
                    "email": f"{first}.{last}.{len(t['users'])}@collectivite.example".lower().replace(" ", ""),
                    "password": "$2b$10$" + f"{rng.getrandbits(128):032x}",
                    "first_name": first,
                    "last_name": last,
                    "phone": f"06{rng.randint(10000000, 99999999)}",
                    "position": rng.choice(["Chargée de mission", "Agent", "Élu"]),
                    "establishment_id": e["id"],
                    "role": rng.choice([0, 0, 0, 1, 2]),
                    "activated_at": activated,
                    "last_authenticated_at": _ts(rng, 200) if rng.random() < 0.8 else None,
                    "suspended_at": None,
                    "deleted_at": None,
                    "updated_at": _ts(rng, 30),
                    "two_factor_code": f"{rng.randint(0, 999999):06d}",
                    "two_factor_sent_at": _ts(rng, 30),
                }
            )

    t["fast_housing"] = []
    for i in range(scale):
        code, *_ = rng.choice(COMMUNES)
        invariant = f"{i * 7919 + 1000003:010d}"
        vacancy_start = rng.choice([None, *range(2005, 2025)])
        t["fast_housing"].append(
            {
                "id": _uuid(rng),
                "local_id": code[:2] + invariant,
                "invariant": invariant,
                "geo_code": code,
                "building_id": f"{code}{rng.randint(0, scale // 4):06d}",
                "plot_id": f"{code}000A{rng.randint(1, 9999):04d}",
                "address_dgfip": [f"{rng.randint(1, 120)} {rng.choice(STREETS).upper()}", f"{code} VILLE"],
                "longitude_dgfip": round(rng.uniform(-1.7, 7.8), 6),
                "latitude_dgfip": round(rng.uniform(43.5, 50.7), 6),
                "cadastral_classification": rng.randint(1, 8),
                "uncomfortable": rng.random() < 0.1,
                "vacancy_start_year": vacancy_start,
                "housing_kind": rng.choice(["APPART", "MAISON"]),
                "rooms_count": rng.randint(1, 7),
                "living_area": round(rng.uniform(15, 180), 2),
                "building_year": rng.randint(1850, 2020),
                "mutation_date": (REFERENCE_DATE - dt.timedelta(days=rng.randint(100, 9000))).date(),
                "last_transaction_value": rng.randint(30000, 600000) if rng.random() < 0.6 else None,
                "taxed": rng.random() < 0.5,
                "data_file_years": [f"lovac-{m}" for m in MILLESIMES if rng.random() < 0.7] + ["ff-2024"],
                "rental_value": rng.randint(500, 9000),
                "condominium": rng.choice([None, "CL", "CV"]),
                "status": 0,
                "sub_status": None,
                "occupancy": rng.choice(["V", "V", "V", "L", "P", "A"]),
                "energy_consumption_bdnb": rng.choice([None, "A", "B", "C", "D", "E", "F", "G"]),
            }
        )

    t["owners"], t["owners_housing"] = [], []
    for h in t["fast_housing"]:
        for rank in range(1, rng.choice([2, 2, 2, 3])):
            first, last = _person(rng)
            owner_id = _uuid(rng)
            birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randint(0, 25000))
            t["owners"].append(
                {
                    "id": owner_id,
                    "idpersonne": f"{h['geo_code'][:2]}{rng.randint(0, 10**8):08d}",
                    "full_name": f"{last.upper()} {first}",
                    "birth_date": birth,
                    "administrator": None,
                    "siren": None,
                    "address_dgfip": [f"{rng.randint(1, 99)} {rng.choice(STREETS)}", "75011 PARIS"],
                    "additional_address": rng.choice([None, "Bâtiment B"]),
                    "email": f"{first}.{last}@exemple.fr".lower().replace(" ", "") if rng.random() < 0.3 else None,
                    "phone": f"07{rng.randint(10000000, 99999999)}" if rng.random() < 0.2 else None,
                    "kind_class": rng.choice(["Particulier", "Particulier", "SCI-Copro-Autre"]),
                    "entity": None,
                    "data_source": "ff-2024",
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
                    "origin": "ff",
                    "idprocpte": f"{h['geo_code']}{rng.randint(0, 99999):05d}",
                    "idprodroit": f"{h['geo_code']}{len(t['owners_housing']):07d}{rank:02d}",
                    "property_right": rng.choice(["proprietaire", "usufruitier"]),
                }
            )
    owner_of = {oh["housing_id"]: oh for oh in t["owners_housing"] if oh["rank"] == 1}
    owners_by_id = {o["id"]: o for o in t["owners"]}

    t["campaigns"], t["campaigns_housing"], t["events"], t["housing_events"] = [], [], [], []
    users_by_est = {}
    for u in t["users"]:
        users_by_est.setdefault(u["establishment_id"], []).append(u)
    housing_by_code = {}
    for h in t["fast_housing"]:
        housing_by_code.setdefault(h["geo_code"], []).append(h)
    for e in t["establishments"]:
        users = users_by_est.get(e["id"])
        if not users:
            continue
        pool = [h for code in e["localities_geo_code"] for h in housing_by_code.get(code, [])]
        for n in range(rng.randint(0, 3)):
            created = _ts(rng, 500, 60)
            status = rng.choice(["draft", "sending", "in-progress", "in-progress", "archived"])
            validated = created + dt.timedelta(days=rng.randint(1, 10)) if status != "draft" else None
            sent = validated + dt.timedelta(days=rng.randint(1, 20)) if status in ("in-progress", "archived") else None
            campaign = {
                "id": _uuid(rng),
                "title": f"Campagne {n + 1} - {e['name']}",
                "status": status,
                "filters": Jsonb({"occupancies": ["V"], "geo_codes": e["localities_geo_code"]}),
                "user_id": rng.choice(users)["id"],
                "establishment_id": e["id"],
                "group_id": None,
                "created_at": created,
                "validated_at": validated,
                "exported_at": validated,
                "sent_at": sent,
                "archived_at": sent + dt.timedelta(days=120) if status == "archived" else None,
            }
            t["campaigns"].append(campaign)
            for h in rng.sample(pool, min(len(pool), rng.randint(5, 40))):
                t["campaigns_housing"].append(
                    {"campaign_id": campaign["id"], "housing_id": h["id"], "housing_geo_code": h["geo_code"], "advice": None}
                )
                if not sent:
                    continue
                at, status_now = sent, h["status"]
                for new_status in sorted(rng.sample([1, 2, 3, 4, 5], rng.randint(0, 3))):
                    if new_status <= status_now:
                        continue
                    at = at + dt.timedelta(days=rng.randint(3, 90))
                    event_id = _uuid(rng)
                    t["events"].append(
                        {
                            "id": event_id,
                            "type": "housing:status-updated",
                            "next_old": Jsonb({"status": status_now}),
                            "next_new": Jsonb({"status": new_status}),
                            "created_at": min(at, REFERENCE_DATE),
                            "created_by": campaign["user_id"],
                        }
                    )
                    t["housing_events"].append({"event_id": event_id, "housing_id": h["id"], "housing_geo_code": h["geo_code"]})
                    status_now = new_status
                h["status"] = status_now
    # Events the warehouse must not copy: owner edits quoting personal details.
    for oh in rng.sample(t["owners_housing"], min(20, len(t["owners_housing"]))):
        owner = owners_by_id[oh["owner_id"]]
        t["events"].append(
            {
                "id": _uuid(rng),
                "type": "owner:updated",
                "next_old": Jsonb({"fullName": owner["full_name"]}),
                "next_new": Jsonb({"fullName": owner["full_name"], "email": owner["email"]}),
                "created_at": _ts(rng, 100),
                "created_by": None,
            }
        )

    _build_files(rng, demo, owner_of, owners_by_id)
    return demo


def _csv_bytes(header: list[str], rows: list[list], delimiter: str, encoding: str, gz: bool) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    data = buf.getvalue().encode(encoding)
    return gzip.compress(data, mtime=0) if gz else data


def _build_files(rng: random.Random, demo: Demo, owner_of: dict, owners_by_id: dict) -> None:
    lovac_header = [
        "annee",
        "ff_millesime",
        "invariant",
        "ff_idlocal",
        "ccodep",
        "commune",
        "groupe",
        "aff",
        "nature",
        "debutvacance",
        "vlcad",
        "ff_ccthp",
        "ff_stoth",
        "ff_npiece_p2",
        "ff_jannath",
        "ban_latitude",
        "ban_longitude",
        "ff_idpersonne_1",
        "ff_ddenom_1",
        "ff_jdatnss_1",
        "ff_idpersonne_2",
        "ff_ddenom_2",
        "ff_jdatnss_2",
        "proprietaire",
        "adresse1",
        "adresse2",
    ]
    ff_header = [
        "idlocal",
        "idbat",
        "idpar",
        "idcom",
        "dteloc",
        "ccthp",
        "jannath",
        "stoth",
        "npiece_p2",
        "loghvac",
        "ndroit",
        "catpro3",
    ]
    ffo_header = [
        "idprodroit",
        "idprocpte",
        "idpersonne",
        "idcom",
        "ccodro",
        "ccogrm",
        "ddenom",
        "dlign3",
        "dlign4",
        "jdatnss",
        "dldnss",
        "dsiren",
    ]
    co_owners = {}
    for oh in demo.tables["owners_housing"]:
        co_owners.setdefault(oh["housing_id"], []).append(oh)
    for millesime in MILLESIMES:
        lovac, ff, ffo = [], [], []
        for h in demo.tables["fast_housing"]:
            links = co_owners.get(h["id"], [])
            owners = [owners_by_id[oh["owner_id"]] for oh in sorted(links, key=lambda oh: oh["rank"])]
            o1 = owners[0] if owners else None
            o2 = owners[1] if len(owners) > 1 else None
            vacant = h["occupancy"] == "V" and h["vacancy_start_year"] is not None and h["vacancy_start_year"] < millesime
            if vacant and rng.random() < 0.95:
                lovac.append(
                    [
                        millesime,
                        millesime - 1,
                        h["invariant"],
                        h["local_id"],
                        h["geo_code"][:2],
                        h["geo_code"][2:],
                        rng.choice([0, 0, 0, 0, 0, 4, 9]),
                        "H",
                        h["housing_kind"],
                        h["vacancy_start_year"],
                        h["rental_value"],
                        "V",
                        int(h["living_area"]),
                        h["rooms_count"],
                        h["building_year"],
                        h["latitude_dgfip"],
                        h["longitude_dgfip"],
                        o1 and o1["idpersonne"],
                        o1 and o1["full_name"],
                        o1 and o1["birth_date"].strftime("%d/%m/%Y"),
                        o2 and o2["idpersonne"],
                        o2 and o2["full_name"],
                        o2 and o2["birth_date"].strftime("%d/%m/%Y"),
                        o1 and o1["full_name"],
                        o1 and o1["address_dgfip"][0],
                        o1 and o1["address_dgfip"][1],
                    ]
                )
            ff.append(
                [
                    h["local_id"],
                    h["building_id"],
                    h["plot_id"],
                    h["geo_code"],
                    1 if h["housing_kind"] == "MAISON" else 2,
                    h["occupancy"],
                    h["building_year"],
                    int(h["living_area"]),
                    h["rooms_count"],
                    1 if vacant else 0,
                    len(owners),
                    rng.choice(["PPH", "PPH", "PMS", "PCO"]),
                ]
            )
            for oh, o in zip(sorted(links, key=lambda oh: oh["rank"]), owners, strict=True):
                ffo.append(
                    [
                        oh["idprodroit"],
                        oh["idprocpte"],
                        o["idpersonne"],
                        h["geo_code"],
                        "P",
                        0,
                        o["full_name"],
                        o["address_dgfip"][0],
                        o["address_dgfip"][1],
                        o["birth_date"].strftime("%d/%m/%Y"),
                        "PARIS",
                        None,
                    ]
                )
        demo.files[f"lake/cerema/lovac/{millesime}/raw.csv"] = _csv_bytes(lovac_header, lovac, ";", "latin-1", gz=False)
        demo.files[f"lake/cerema/ff/{millesime}/raw.csv.gz"] = _csv_bytes(ff_header, ff, ",", "utf-8", gz=True)
        demo.files[f"lake/cerema/ff/{millesime}/owners.csv.gz"] = _csv_bytes(ffo_header, ffo, ",", "utf-8", gz=True)
        demo.tables.setdefault("_files", []).append(
            {"millesime": millesime, "lovac": len(lovac), "ff_housing": len(ff), "ff_owners": len(ffo)}
        )


# The tables of production_schema.sql, parents before children (the COPY order).
PRODUCTION_TABLES = (
    "localities",
    "establishments",
    "users",
    "fast_housing",
    "owners",
    "owners_housing",
    "campaigns",
    "campaigns_housing",
    "events",
    "housing_events",
)


def write_production(demo: Demo, db_url: str) -> None:
    """Create the production schema in an empty database and COPY the rows in."""
    with psycopg.connect(db_url) as con:
        con.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
        for table in PRODUCTION_TABLES:
            rows = demo.tables[table]
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
    if not args.skip_files:
        upload_files(
            demo, s3_url, os.environ.get("ZLV_DEMO_S3_ACCESS_KEY", ""), os.environ.get("ZLV_DEMO_S3_SECRET_KEY", ""), args.bucket
        )
        print(f"{len(demo.files)} LOCOMVAC / FF files uploaded to s3://{args.bucket}/lake/cerema/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
