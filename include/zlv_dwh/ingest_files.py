"""Load the national files (LOCOMVAC, FF) from S3-compatible storage into raw_<family>.<dataset>.

One object feeds one millésime (and, where the key says so, one département) of one dataset. A
manifest (`ops.file_manifest`) remembers the ETag of every object loaded: a re-run loads nothing
new, a replaced object reloads just the rows it fed, a vanished object is reported.

Each object is streamed to a temporary file beside the warehouse (checked byte for byte against its
size and, when gzip, its end-of-stream marker: DuckDB alone reads a truncated gzip as a shorter
file), checked against the declared contract, then its rows replace the rows it fed in one
transaction. A file that breaks the contract is quarantined — recorded with the column, what was
expected and what was found — and never half-loaded; the family's other files still load.
Malformed rows are counted and reported with their line numbers; a declared share decides between
quarantine and load-with-report. Values of rejected lines are never stored: they may be personal.
Dropped columns are never parsed (DuckDB reads only the projected columns), so bad bytes or values
there, whose content is not kept anyway, do not count as malformed."""

from __future__ import annotations

import csv
import gzip
import logging
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

from zlv_dwh import config_schema, load_log, pii
from zlv_dwh.config_schema import Strict, close_match
from zlv_dwh.settings import CONFIG_DIR, S3Settings
from zlv_dwh.warehouse import connect, duplicate_keys, quote_ident, quote_literal, rollback_quietly, single_writer

log = logging.getLogger(__name__)

CHUNK = 8 * 1024 * 1024
REJECTS_KEPT_PER_OBJECT = 1000

OPS_DDL = """
create schema if not exists ops;
-- No primary key: DuckLake has no constraints; one row per object is kept by delete + insert.
create table if not exists ops.file_manifest (
    object_key varchar not null,
    family varchar not null,
    dataset varchar not null,
    millesime integer not null,
    departement varchar,
    etag varchar not null,
    size_bytes bigint not null,
    status varchar not null,          -- loaded | quarantined | missing
    rows_loaded bigint,
    rows_malformed bigint,
    reason varchar,
    run_id varchar not null,
    loaded_at timestamp not null
);
create table if not exists ops.file_rejects (
    run_id varchar not null,
    object_key varchar not null,
    line bigint,
    column_name varchar,
    error_type varchar not null
);
"""


class ContractError(ValueError):
    """A file does not match its declared contract; names the file and the column(s)."""


class FileIngestError(RuntimeError):
    """A file could not be read for a reason that is not the file's fault (network, storage)."""


@dataclass(frozen=True)
class DatasetSpec:
    family: str
    name: str
    key_pattern: str
    columns: dict[str, str]
    primary_key: tuple[str, ...]
    format: str = "csv"
    delimiter: str = ","
    quote: str = '"'
    encoding: str = "utf-8"
    compression: str = "none"
    drop: tuple[str, ...] = ()
    pseudonymise: tuple[str, ...] = ()
    max_malformed_share: float = 0.0
    on_contract_error: str = "fail"

    def __post_init__(self):
        where = f"dataset {self.family}.{self.name}"
        if self.format not in ("csv", "parquet"):
            raise ValueError(f"{where}: format must be csv or parquet, got {self.format!r}")
        if self.compression not in ("none", "gzip"):
            raise ValueError(f"{where}: compression must be none or gzip, got {self.compression!r}")
        if self.on_contract_error not in ("fail", "warn"):
            raise ValueError(f"{where}: on_contract_error must be fail or warn, got {self.on_contract_error!r}")
        if "{millesime}" not in self.key_pattern:
            raise ValueError(f"{where}: key_pattern must contain {{millesime}}")
        unknown = [c for c in (*self.primary_key, *self.drop, *self.pseudonymise) if c not in self.columns]
        if unknown:
            raise ValueError(f"{where}: primary_key/drop/pseudonymise name column(s) {unknown} not in its columns")

    @property
    def prefix(self) -> str:
        return re.split(r"\{(?:millesime|departement)\}", self.key_pattern)[0]

    @property
    def target(self) -> str:
        return f"{quote_ident(f'raw_{self.family}')}.{quote_ident(self.name)}"

    def parse_key(self, key: str) -> tuple[int, str | None] | None:
        """(millésime, département) when the key matches the pattern, else None."""
        regex = re.escape(self.key_pattern)
        regex = regex.replace(re.escape("{millesime}"), r"(?P<millesime>\d{4})")
        regex = regex.replace(re.escape("{departement}"), r"(?P<departement>2[AB]|\d{2,3})")
        match = re.fullmatch(regex, key)
        if not match:
            return None
        return int(match["millesime"]), match.groupdict().get("departement")


@dataclass(frozen=True)
class FamilySpec:
    name: str
    description: str
    datasets: tuple[DatasetSpec, ...]

    def dataset(self, name: str) -> DatasetSpec:
        return next(ds for ds in self.datasets if ds.name == name)


@dataclass(frozen=True)
class FilesConfig:
    connection_id: str
    bucket: str
    families: dict[str, FamilySpec]


# --- the YAML schema (include/config/file_families.yml) ---

KEY_PLACEHOLDERS = ("millesime", "departement")
# Options of the CSV reader; on a Parquet dataset they would be ignored (or, for gzip, misapplied).
CSV_ONLY_OPTIONS = ("delimiter", "quote", "encoding", "compression")


def _listed_once(names: list[str]) -> list[str]:
    """A column named twice in a list is a typo for another column, which then goes untreated."""
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"column(s) listed twice: {', '.join(repeated)}")
    return names


ColumnList = Annotated[list[str], AfterValidator(_listed_once)]
# Whitespace is meaningful here: a tab is a delimiter; the CSV header is split on exactly one character.
OneCharacter = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=1)]


class FileDefaults(Strict):
    max_malformed_share: float = Field(0.0, ge=0, le=1)
    on_contract_error: Literal["fail", "warn"] = "fail"


class DatasetDeclaration(Strict):
    key_pattern: str = Field(min_length=1)
    format: Literal["csv", "parquet"] = "csv"
    delimiter: OneCharacter | None = None
    quote: OneCharacter | None = None
    encoding: Literal["utf-8", "latin-1"] | None = None
    compression: Literal["none", "gzip"] | None = None
    primary_key: ColumnList = Field(min_length=1)
    columns: dict[str, Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    drop: ColumnList = []
    pseudonymise: ColumnList = []
    max_malformed_share: float | None = Field(None, ge=0, le=1)
    on_contract_error: Literal["fail", "warn"] | None = None

    @field_validator("key_pattern")
    @classmethod
    def _known_placeholders(cls, pattern: str) -> str:
        placeholders = re.findall(r"\{([^{}]*)\}", pattern)
        for name in placeholders:
            if name not in KEY_PLACEHOLDERS:
                raise ValueError(
                    f"placeholder {{{name}}} is not one of {{millesime}}, {{departement}}{close_match(name, KEY_PLACEHOLDERS)}"
                )
            if placeholders.count(name) > 1:
                raise ValueError(f"placeholder {{{name}}} appears twice")
        if "millesime" not in placeholders:
            raise ValueError("must contain {millesime}: every object feeds one millésime")
        return pattern

    @model_validator(mode="after")
    def _columns_are_declared(self):
        for key in ("primary_key", "drop", "pseudonymise"):
            for name in getattr(self, key):
                if name not in self.columns:
                    raise ValueError(f"{key}: column {name} is not in columns{close_match(name, self.columns)}")
        both = [c for c in self.drop if c in self.pseudonymise]
        if both:
            raise ValueError(f"column(s) {', '.join(both)} both in drop and pseudonymise: choose one")
        dropped_keys = [c for c in self.primary_key if c in self.drop]
        if dropped_keys:
            raise ValueError(f"primary_key column(s) {', '.join(dropped_keys)} are in drop: a dropped column is never stored")
        if self.format == "parquet":
            given = [k for k in CSV_ONLY_OPTIONS if getattr(self, k) is not None]
            if given:
                raise ValueError(f"{', '.join(given)}: CSV options, not read for a parquet dataset")
        return self


class FamilyDeclaration(Strict):
    description: str = ""
    datasets: dict[str, DatasetDeclaration] = Field(min_length=1)


class FileFamiliesFile(Strict):
    connection_id: str = Field(min_length=1)
    bucket: str = Field(min_length=1)
    defaults: FileDefaults = FileDefaults()
    families: dict[str, FamilyDeclaration] = Field(min_length=1)


def _dataset_spec(family: str, name: str, declared: DatasetDeclaration, defaults: FileDefaults) -> DatasetSpec:
    """A dataset's declaration with the file's defaults filled in (None means not given)."""
    return DatasetSpec(
        family=family,
        name=name,
        key_pattern=declared.key_pattern,
        columns=dict(declared.columns),
        primary_key=tuple(declared.primary_key),
        format=declared.format,
        delimiter=declared.delimiter or ",",
        quote=declared.quote or '"',
        encoding=declared.encoding or "utf-8",
        compression=declared.compression or "none",
        drop=tuple(declared.drop),
        pseudonymise=tuple(declared.pseudonymise),
        max_malformed_share=(
            declared.max_malformed_share if declared.max_malformed_share is not None else defaults.max_malformed_share
        ),
        on_contract_error=declared.on_contract_error or defaults.on_contract_error,
    )


def load_config(path: Path | None = None) -> FilesConfig:
    """Read and validate the file families; cheap enough to call at DAG parse time. A bad key fails
    here, naming the file, the key path and the closest valid spelling."""
    path = Path(path or CONFIG_DIR / "file_families.yml")
    declared = config_schema.load(FileFamiliesFile, path)
    try:
        families = {
            fam_name: FamilySpec(
                fam_name,
                fam.description,
                tuple(_dataset_spec(fam_name, ds_name, ds, declared.defaults) for ds_name, ds in fam.datasets.items()),
            )
            for fam_name, fam in declared.families.items()
        }
    except ValueError as exc:
        raise config_schema.ConfigError(f"{path}: {exc}") from None
    # The bucket is per deployment (ZLV_S3_BUCKET); the YAML's is the default.
    return FilesConfig(declared.connection_id, os.environ.get("ZLV_S3_BUCKET") or declared.bucket, families)


@dataclass(frozen=True)
class ObjectRef:
    """One object as listed: what an Airflow mapped task receives (plain values, JSON-able)."""

    family: str
    dataset: str
    bucket: str
    key: str
    etag: str
    size: int
    millesime: int
    departement: str | None = None

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass
class ObjectOutcome:
    key: str
    dataset: str
    status: str  # loaded | unchanged | quarantined | missing
    rows: int | None = None
    malformed: int = 0
    reason: str | None = None
    decided_earlier: bool = False  # same ETag as an earlier run's load or quarantine: nothing done

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class FamilyReport:
    family: str
    outcomes: list[ObjectOutcome] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    still_quarantined: list[str] = field(default_factory=list)

    def by_status(self, status: str) -> list[ObjectOutcome]:
        return [o for o in self.outcomes if o.status == status]

    def summary(self) -> str:
        counts = {s: len(self.by_status(s)) for s in ("loaded", "unchanged", "quarantined", "missing")}
        text = f"family {self.family}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
        text += f"; rows loaded {sum(o.rows or 0 for o in self.by_status('loaded')):,}"
        malformed = sum(o.malformed for o in self.by_status("loaded"))
        if malformed:
            text += f"; {malformed:,} malformed row(s) skipped and reported (ops.file_rejects)"
        if self.vanished:
            text += f"; {len(self.vanished)} object(s) no longer in storage (rows kept): {', '.join(self.vanished)}"
        if self.still_quarantined:
            text += f"; still quarantined (unchanged since): {', '.join(self.still_quarantined)}"
        return text


def s3_client(s3: S3Settings):
    """A boto3 client for S3-compatible storage (Cellar, MinIO, moto): path-style, a few retries."""
    import boto3  # here, not at module import: the DAG files import this module at every parse (0.35 s)
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
        region_name=s3.region,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}),
    )


def list_objects(s3: S3Settings, bucket: str, family: FamilySpec) -> list[ObjectRef]:
    """Every object of the family matching a dataset's key pattern, oldest millésime first."""
    client = s3_client(s3)
    found = []
    for ds in family.datasets:
        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=ds.prefix):
                for obj in page.get("Contents", []):
                    parsed = ds.parse_key(obj["Key"])
                    if parsed:
                        etag = obj["ETag"].strip('"')
                        found.append(ObjectRef(family.name, ds.name, bucket, obj["Key"], etag, obj["Size"], *parsed))
        except (BotoCoreError, ClientError) as exc:
            raise FileIngestError(f"cannot list s3://{bucket}/{ds.prefix} ({type(exc).__name__}: {str(exc)[:200]})") from None
        if not any(ref.dataset == ds.name for ref in found):
            log.warning("no object under s3://%s/%s for dataset %s.%s", bucket, ds.prefix, family.name, ds.name)
    return sorted(found, key=lambda r: (r.dataset, r.millesime, r.departement or "", r.key))


# --- download ---------------------------------------------------------------------------------


@contextmanager
def _download_dir(warehouse: Path) -> Iterator[Path]:
    """A private folder beside the warehouse, removed whatever happens. Under the DuckDB file's
    write lock nobody else can be using the others, so leftovers of a killed run go first; on
    DuckLake other writers may be downloading beside us, so only our own folder is removed."""
    parent = warehouse.parent / ".downloads"
    owned = single_writer()
    if owned:
        shutil.rmtree(parent, ignore_errors=True)
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(parent if owned else folder, ignore_errors=True)


class _GzipEnd:
    """Follows a gzip stream (members may be concatenated), output discarded in bounded pieces."""

    def __init__(self):
        self._z = zlib.decompressobj(wbits=31)
        self.complete = False

    def feed(self, data: bytes) -> None:
        while data:
            self._z.decompress(data, 4 * 1024 * 1024)
            if self._z.eof:  # end of one member: what follows, if anything, is the next member
                data = self._z.unused_data
                self._z = zlib.decompressobj(wbits=31)
                self.complete = True
            else:
                data = self._z.unconsumed_tail
                self.complete = False


def download(client, ref: ObjectRef, ds: DatasetSpec, folder: Path) -> tuple[Path, str, int]:
    """Stream the object to `folder`; returns (path, ETag, size) of what was really read."""
    try:
        response = client.get_object(Bucket=ref.bucket, Key=ref.key)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404"):
            raise FileNotFoundError(ref.url) from None
        raise FileIngestError(f"file {ref.url}: storage refused the download ({code})") from None
    except BotoCoreError as exc:  # endpoint unreachable, timeouts: transient, the task retries
        raise FileIngestError(f"file {ref.url}: storage unreachable ({type(exc).__name__})") from None
    expected = response["ContentLength"]
    etag = response["ETag"].strip('"')
    path = folder / Path(ref.key).name
    gz = _GzipEnd() if ds.compression == "gzip" else None
    written = 0
    try:
        with path.open("wb") as out:
            for chunk in response["Body"].iter_chunks(CHUNK):
                out.write(chunk)
                written += len(chunk)
                if gz:
                    gz.feed(chunk)
    except zlib.error as exc:
        raise ContractError(f"file {ref.url} (dataset {ds.family}.{ds.name}): not a valid gzip stream ({exc})") from None
    except Exception as exc:
        raise FileIngestError(f"file {ref.url}: download interrupted after {written:,} bytes ({type(exc).__name__})") from None
    if written != expected:
        raise FileIngestError(f"file {ref.url}: download interrupted: {written:,} of {expected:,} bytes")
    if gz and not gz.complete:
        raise ContractError(
            f"file {ref.url} (dataset {ds.family}.{ds.name}): truncated gzip (the stream ends before its end marker)"
        )
    return path, etag, written


# --- contract ---------------------------------------------------------------------------------


def _csv_options(ds: DatasetSpec) -> str:
    return (
        f"header = true, delim = {quote_literal(ds.delimiter)}, quote = {quote_literal(ds.quote)}, "
        f"encoding = {quote_literal(ds.encoding)}, compression = {quote_literal(ds.compression)}"
    )


def _reader(ds: DatasetSpec, path: Path, rejects: tuple[str, str]) -> str:
    """The typed read of a local file; CSV lines that do not fit land in the rejects tables."""
    local = quote_literal(str(path))
    if ds.format == "parquet":
        return f"read_parquet({local})"
    return (
        f"read_csv({local}, {_csv_options(ds)}, auto_detect = false, columns = {_struct(ds)}, store_rejects = true, "
        f"rejects_table = {quote_literal(rejects[0])}, rejects_scan = {quote_literal(rejects[1])})"
    )


def _struct(ds: DatasetSpec) -> str:
    return "{" + ", ".join(f"{quote_literal(c)}: {quote_literal(t)}" for c, t in ds.columns.items()) + "}"


def _normalised_type(con, type_name: str) -> str:
    return con.execute(f"select typeof(cast(null as {type_name}))").fetchone()[0]


def check_contract(con, ds: DatasetSpec, path: Path, url: str) -> None:
    """Refuse a file whose columns (names, and types for Parquet) differ from the contract."""
    where = f"file {url} (dataset {ds.family}.{ds.name})"
    if ds.format == "parquet":
        found = dict(
            con.execute(
                f"select column_name, column_type from (describe select * from read_parquet({quote_literal(str(path))}))"
            ).fetchall()
        )
    else:
        found = dict.fromkeys(_csv_header(ds, path, where))
    expected = list(ds.columns)
    missing = [c for c in expected if c not in found]
    extra = [c for c in found if c not in expected]
    if missing or extra:
        hint = ""
        if ds.format == "csv" and len(found) == 1 and any(d in next(iter(found)) for d in ",;|\t"):
            hint = f" (one column read with delimiter {ds.delimiter!r}: wrong delimiter?)"
        raise ContractError(f"{where} breaks its contract: missing column(s) {missing}, unexpected column(s) {extra}{hint}")
    if ds.format == "parquet":
        retyped = [
            f"column {c}: expected {_normalised_type(con, t)}, found {found[c]}"
            for c, t in ds.columns.items()
            if _normalised_type(con, t) != found[c]
        ]
        if retyped:
            raise ContractError(f"{where} breaks its contract: {'; '.join(retyped)}")


def _csv_header(ds: DatasetSpec, path: Path, where: str) -> list[str]:
    """The header line as the declared dialect splits it: one line read, nothing sniffed."""
    opener = gzip.open if ds.compression == "gzip" else open
    try:
        with opener(path, "rb") as f:
            raw = f.readline(1024 * 1024)
    except (OSError, EOFError) as exc:
        raise ContractError(f"{where}: unreadable as declared ({ds.format}, {ds.compression}): {exc}") from None
    if not raw.strip():
        raise ContractError(f"{where}: empty file (no header line)")
    try:
        line = raw.decode(ds.encoding).lstrip("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ContractError(f"{where}: header line is not valid {ds.encoding} (wrong encoding?)") from None
    return next(csv.reader([line], delimiter=ds.delimiter, quotechar=ds.quote))


# --- load -------------------------------------------------------------------------------------


def _target_ddl(ds: DatasetSpec) -> str:
    cols = [f"{quote_ident(c)} {'VARCHAR' if c in ds.pseudonymise else t}" for c, t in ds.columns.items() if c not in ds.drop]
    cols += ["millesime INTEGER NOT NULL", "departement VARCHAR", "_source_key VARCHAR NOT NULL", "_loaded_at TIMESTAMP NOT NULL"]
    return f"create table if not exists {ds.target} ({', '.join(cols)})"


def _select_list(ds: DatasetSpec, ref: ObjectRef) -> str:
    select = [
        f"{pii.hmac_sql(quote_ident(c))} as {quote_ident(c)}" if c in ds.pseudonymise else quote_ident(c)
        for c in ds.columns
        if c not in ds.drop
    ]
    select += [
        f"{ref.millesime} as millesime",
        f"{quote_literal(ref.departement) if ref.departement else 'null'} as departement",
        f"{quote_literal(ref.key)} as _source_key",
        "cast(now() as timestamp) as _loaded_at",
    ]
    return ", ".join(select)


def _describe_rejects(rejects: list[tuple], ds: DatasetSpec) -> str:
    """Which columns, what was expected, at which lines: never the values."""
    groups: dict[tuple[str, str], list[int]] = {}
    for line, column, error_type in rejects:
        groups.setdefault((error_type, column or "-"), []).append(line)
    parts = []
    for (error_type, column), lines in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        lines = sorted(set(lines))
        shown = ", ".join(str(n) for n in lines[:10]) + (" ..." if len(lines) > 10 else "")
        if error_type == "CAST":
            what = f"column {column}: value not {ds.columns.get(column, '?')}"
        elif error_type == "INVALID ENCODING":
            what = f"column {column}: not valid {ds.encoding} (wrong encoding?)"
        else:
            what = error_type.lower() + (f" (column {column})" if column != "-" else "")
        parts.append(f"{what} at line(s) {shown} ({len(lines):,} line(s))")
    return "; ".join(parts)


def _manifest_write(con, ref: ObjectRef, etag: str, size: int, status: str, run_id: str, **values) -> None:
    con.execute("delete from ops.file_manifest where object_key = ?", [ref.key])
    con.execute(
        "insert into ops.file_manifest (object_key, family, dataset, millesime, departement, etag, size_bytes, "
        "status, rows_loaded, rows_malformed, reason, run_id, loaded_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::timestamp)",
        [
            ref.key,
            ref.family,
            ref.dataset,
            ref.millesime,
            ref.departement,
            etag,
            size,
            status,
            values.get("rows"),
            values.get("malformed"),
            values.get("reason"),
            run_id,
        ],
    )


def load_object(
    ref: ObjectRef,
    ds: DatasetSpec,
    *,
    s3: S3Settings,
    warehouse: Path,
    run_id: str,
    hash_key: bytes | None,
    extension_dir: Path | None = None,
) -> ObjectOutcome:
    """Bring the rows one object feeds up to date: skip it if its ETag is already loaded (or
    quarantined), else download, check and replace its rows in one transaction."""
    with connect(warehouse, extension_dir=extension_dir) as con:
        con.execute(OPS_DDL)
        load_log.ensure(con)
        known = con.execute("select etag, status from ops.file_manifest where object_key = ?", [ref.key]).fetchone()
        if known and known[0] == ref.etag and known[1] in ("loaded", "quarantined"):
            status = "unchanged" if known[1] == "loaded" else "quarantined"
            log.info("%s: ETag %s already %s, nothing to do", ref.url, ref.etag, known[1])
            return ObjectOutcome(
                ref.key,
                ref.dataset,
                status,
                reason="unchanged since its quarantine" if known[1] != "loaded" else None,
                decided_earlier=True,
            )
        record = load_log.LoadRecord(run_id=run_id, source=ref.family, table_name=ref.dataset, mode="object", object_key=ref.key)
        with _download_dir(warehouse) as folder:
            try:
                path, etag, size = download(s3_client(s3), ref, ds, folder)
            except FileNotFoundError:
                log.warning("%s was deleted between listing and download: skipped", ref.url)
                return ObjectOutcome(ref.key, ref.dataset, "missing", reason="deleted between listing and download")
            except ContractError as exc:
                return _quarantine(con, ref, ref.etag, ref.size, run_id, record, str(exc))
            except FileIngestError as exc:
                load_log.write(con, record, "failed", str(exc))
                raise
            try:
                check_contract(con, ds, path, ref.url)
                return _replace_rows(con, ds, ref, path, etag, size, run_id, hash_key, record)
            except ContractError as exc:
                return _quarantine(con, ref, etag, size, run_id, record, str(exc))
            except Exception as exc:
                message = f"file {ref.url} (dataset {ds.family}.{ds.name}): {str(exc).splitlines()[0]}"
                load_log.write(con, record, "failed", message)
                raise FileIngestError(message) from None


def _replace_rows(con, ds, ref, path, etag, size, run_id, hash_key, record) -> ObjectOutcome:
    where = f"file {ref.url} (dataset {ds.family}.{ds.name})"
    if ds.pseudonymise:
        pii.install_key(con, pii.require_key(hash_key))
    rejects = ("_zlv_rejects", "_zlv_reject_scans")
    con.execute(f"drop table if exists {rejects[0]}; drop table if exists {rejects[1]}")
    try:
        con.execute("begin transaction")
        con.execute(f"create schema if not exists {quote_ident(f'raw_{ds.family}')}")
        con.execute(_target_ddl(ds))
        con.execute(f"alter table {ds.target} add column if not exists departement varchar")
        con.execute(f"delete from {ds.target} where _source_key = ?", [ref.key])
        inserted = con.execute(
            f"insert into {ds.target} select {_select_list(ds, ref)} from {_reader(ds, path, rejects)}"
        ).fetchone()[0]
        bad = []
        if ds.format == "csv":
            bad = con.execute(f"select line, column_name, error_type from {rejects[0]} order by line").fetchall()
        malformed = len({line for line, _, _ in bad})
        total = inserted + malformed
        if malformed and malformed > ds.max_malformed_share * total:
            raise ContractError(
                f"{where}: {malformed:,} of {total:,} row(s) malformed ({malformed / total:.2%} > "
                f"{ds.max_malformed_share:.2%} allowed): {_describe_rejects(bad, ds)}"
            )
        if total == 0:  # replacing a millésime with nothing is never what a delivery means
            raise ContractError(f"{where}: a header and no data row")
        dup = duplicate_keys(con, ds.target, ds.primary_key, where="millesime = ?", params=[ref.millesime])
        if dup:
            raise ContractError(
                f"{where}: {dup} duplicate value(s) of key ({', '.join(ds.primary_key)}) in millésime {ref.millesime}"
            )
        if bad:
            con.executemany(
                "insert into ops.file_rejects values (?, ?, ?, ?, ?)",
                [(run_id, ref.key, line, column, error_type) for line, column, error_type in bad[:REJECTS_KEPT_PER_OBJECT]],
            )
        reason = f"{malformed:,} malformed row(s) skipped: {_describe_rejects(bad, ds)}" if malformed else None
        _manifest_write(con, ref, etag, size, "loaded", run_id, rows=inserted, malformed=malformed, reason=reason)
        record.rows_loaded = record.rows_inserted = inserted
        record.rows_read = total
        load_log.write(con, record, "success", reason)
        con.execute("commit")
    except Exception:
        rollback_quietly(con)
        raise
    if malformed:
        log.warning("%s: loaded %s rows; %s", where, f"{inserted:,}", reason)
    else:
        log.info("%s: loaded %s rows into %s", where, f"{inserted:,}", ds.target)
    return ObjectOutcome(ref.key, ref.dataset, "loaded", rows=inserted, malformed=malformed, reason=reason)


def _quarantine(con, ref, etag, size, run_id, record, reason) -> ObjectOutcome:
    """Record the refusal (manifest + load log); the rows the object fed before are untouched."""
    log.error("quarantined: %s", reason)
    con.execute("begin transaction")
    _manifest_write(con, ref, etag, size, "quarantined", run_id, reason=reason)
    load_log.write(con, record, "quarantined", reason)
    con.execute("commit")
    return ObjectOutcome(ref.key, ref.dataset, "quarantined", reason=reason)


def finish_family(
    family: FamilySpec, listed: list[ObjectRef], outcomes: list[ObjectOutcome], *, warehouse: Path, run_id: str
) -> FamilyReport:
    """Report the run: objects gone from storage are marked (their rows kept), and quarantined
    files fail the family when their dataset says so."""
    report = FamilyReport(family.name, list(outcomes))
    listed_keys = {ref.key for ref in listed}
    with connect(warehouse) as con:
        con.execute(OPS_DDL)
        known = con.execute(
            "select object_key, status from ops.file_manifest where family = ? and status <> 'missing'", [family.name]
        ).fetchall()
        report.vanished = sorted(k for k, status in known if status == "loaded" and k not in listed_keys)
        if report.vanished:
            con.execute(
                "update ops.file_manifest set status = 'missing', reason = 'no longer in storage; its rows are kept', "
                "run_id = ?, loaded_at = now()::timestamp where object_key in (select unnest(?::varchar[]))",
                [run_id, report.vanished],
            )
    report.still_quarantined = [o.key for o in outcomes if o.status == "quarantined" and o.decided_earlier]
    new_quarantines = [o for o in outcomes if o.status == "quarantined" and o.key not in report.still_quarantined]
    failing = [o for o in new_quarantines if family.dataset(o.dataset).on_contract_error == "fail"]
    log.info("%s", report.summary())
    for o in new_quarantines:
        log.error("quarantined %s: %s", o.key, o.reason)
    if failing:
        raise ContractError(
            f"{len(failing)} file(s) of family {family.name} quarantined (fix or replace them, then re-run): "
            + "; ".join(o.reason or o.key for o in failing)
        )
    return report


def ingest_family(
    family: FamilySpec,
    *,
    s3: S3Settings,
    bucket: str,
    warehouse: Path,
    run_id: str,
    hash_key: bytes | None,
    extension_dir: Path | None = None,
) -> FamilyReport:
    """List, load every object, report: what the Airflow DAG does as mapped tasks, in one call."""
    listed = list_objects(s3, bucket, family)
    outcomes = [
        load_object(
            ref,
            family.dataset(ref.dataset),
            s3=s3,
            warehouse=warehouse,
            run_id=run_id,
            hash_key=hash_key,
            extension_dir=extension_dir,
        )
        for ref in listed
    ]
    return finish_family(family, listed, outcomes, warehouse=warehouse, run_id=run_id)


def ingest_all(config: FilesConfig, *, bucket: str | None = None, **kwargs) -> dict[str, FamilyReport]:
    """Every declared family from the configured bucket (or `bucket`), one after another: the
    pipeline without Airflow (demo, tests, benches)."""
    return {name: ingest_family(family, bucket=bucket or config.bucket, **kwargs) for name, family in config.families.items()}
