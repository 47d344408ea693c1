"""The gate's own measure: personal data planted in many forms, at random (per seed), in mart text
columns; the audit must catch every planted column and fire on none of the clean ones. Prints
`rgpd corpus: planted N, caught N, false positives 0` in the test run's output."""

import json
import random

import duckdb
import pytest

from conftest import TEST_HASH_KEY
from zlv_dwh import pii, rgpd_audit

FIRST = ["Hélène", "Jean-Pierre", "Zoé", "François", "Maëlle", "Loïc", "Anne-Sophie", "Thérèse"]
LAST = ["Marchand", "Lefèvre", "Nguyễn", "Da Silva", "Bénard", "Le Goff", "Dupont-Aignan", "Ouédraogo"]
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"]


def _phone(rng):
    d = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
    pairs = [f"0{d[0]}"] + [f"{d[i]}{d[i + 1]}" for i in range(1, 9, 2)]
    digits = "".join(pairs)
    return rng.choice(
        [
            " ".join(pairs),
            ".".join(pairs),
            "/".join(pairs),
            "-".join(pairs),
            digits,
            f"+33 {d[0]} " + " ".join(pairs[1:]),
            f"+33 (0){d[0]} " + " ".join(pairs[1:]),
            f"0033 {d[0]}" + "".join(pairs[1:]),
            f"{digits[:3]} {digits[3:6]} {digits[6:]}",
        ]
    )


def _email(rng, first, last):
    user = f"{pii_ascii(first)}.{pii_ascii(last)}".lower().replace(" ", "")
    domain = rng.choice(["orange", "wanadoo", "gmail", "laposte"])
    tld = rng.choice(["fr", "com", "net"])
    return rng.choice(
        [
            f"{user}@{domain}.{tld}",
            f"{user} [at] {domain}.{tld}",
            f"{user}(at){domain}.{tld}",
            f"{user} @ {domain} . {tld}",
            f"{user} at {domain} dot {tld}",
            f"{user} [arobase] {domain} [point] {tld}",
        ]
    )


def pii_ascii(text):
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _birth(rng):
    day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1925, 1995)
    date = rng.choice(
        [
            f"{day} {MONTHS[month - 1]} {year}",
            f"{day:02d}/{month:02d}/{year}",
            f"{year}/{month:02d}/{day:02d}",
            f"{year}-{month:02d}-{day:02d}",
            f"1er {MONTHS[month - 1]} {year}",
        ]
    )
    return rng.choice([f"née le {date}", f"né le {date}", f"date de naissance : {date}"])


def _nir(rng):
    digits = f"{rng.choice('12')}{rng.randint(30, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 95):02d}{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
    return rng.choice(
        [
            digits,
            " ".join([digits[0], digits[1:3], digits[3:5], digits[5:7], digits[7:10], digits[10:13]])
            + f" {rng.randint(1, 97):02d}",
        ]
    )


def _known_name(rng, person):
    first, last = person
    forms = [
        f"{first} {last}",
        f"{last.upper()} {first}",
        f"Mme {first} {last}",
        f"M. {last} {first}",
        pii_ascii(f"{first} {last}").lower(),
        f"Relancer {first} {last.upper()} avant lundi",
    ]
    return rng.choice(forms)


CLEAN = [
    lambda rng: f"{rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(100, 999)}",  # SIREN
    lambda rng: f"{rng.randint(10**13, 10**14 - 1)}",  # SIRET
    lambda rng: f"{rng.randint(10, 95)}{rng.randint(0, 999):03d}",  # postal / INSEE code
    lambda rng: f"{rng.randint(1000, 99999)}.{rng.randint(0, 99):02d}",  # an amount
    lambda rng: f"{rng.randint(10, 95)}{rng.randint(10**9, 10**10 - 1)}",  # a local id
    lambda rng: f"Campagne {rng.randint(1, 9)} - {rng.choice(['Strasbourg', 'Lyon', 'Rennes'])} {rng.randint(2019, 2026)}",
    lambda rng: rng.choice(["Centre-ville Lyon", "OPAH Colmar", "lovac-2024", "ff-2023", "Suivi terminé"]),
    lambda rng: f"{rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}",
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_audit_catches_every_planted_form_and_nothing_else(seed, tmp_path, capsys):
    rng = random.Random(seed)
    people = [(rng.choice(FIRST), rng.choice(LAST)) for _ in range(20)]
    con = duckdb.connect()
    pii.install_key(con, TEST_HASH_KEY)
    con.execute("create temp table people as select unnest(?) as name", [[f"{f} {last}" for f, last in people]])
    pii.record_known_names(con, "owners.full_name", "people", "name")
    con.execute("create schema marts")
    makers = {
        "phone": lambda: _phone(rng),
        "email": lambda: _email(rng, *rng.choice(people)),
        "birth": lambda: _birth(rng),
        "nir": lambda: _nir(rng),
        "name": lambda: _known_name(rng, rng.choice(people)),
    }
    planted, clean, nodes = [], [], {}
    for i in range(40):
        kind = rng.choice(sorted(makers))
        mart, column = f"mart_{i % 4}", f"planted_{i}_{kind}"
        planted.append((mart, column, makers[kind]()))
    for i in range(40):
        clean.append((f"mart_{i % 4}", f"clean_{i}", CLEAN[i % len(CLEAN)](rng)))
    for mart in sorted({m for m, _, _ in planted + clean}):
        cols = [(c, v) for m, c, v in planted + clean if m == mart]
        # each value sits among clean rows, as a leak does in a real mart
        con.execute(
            f"create table marts.{mart} as select * from (select {', '.join(f'?::varchar as {c}' for c, _ in cols)}) "
            f"union all select {', '.join(f'{rng.randint(1, 9)}::varchar' for _ in cols)} from range(20)",
            [v for _, v in cols],
        )
        nodes[f"model.zlv.{mart}"] = {
            "resource_type": "model",
            "name": mart,
            "alias": mart,
            "schema": "marts",
            "columns": {c: {"meta": {"rgpd": "none"}} for c, _ in cols},
        }
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"nodes": nodes}))
    report = rgpd_audit.audit(con, manifest, f"corpus-{seed}", key=TEST_HASH_KEY)
    failed = {(c.mart, c.column_name) for c in report.failures}
    caught = [(m, c, v) for m, c, v in planted if (m, c) in failed]
    missed = [(c, v) for m, c, v in planted if (m, c) not in failed]
    false_positives = [(c, v) for m, c, v in clean if (m, c) in failed]
    with capsys.disabled():
        print(
            f"\nrgpd corpus (seed {seed}): planted {len(planted)}, caught {len(caught)}, false positives {len(false_positives)}"
        )
    assert missed == [] and false_positives == [], (missed, false_positives)
    assert all(v not in report.to_json() for _, _, v in planted)  # the report never quotes a value
