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
Dropped columns are never cast (DuckDB reads them as text and does not keep them), so bad values
there, whose content is not kept anyway, do not count as malformed; the bytes of the whole file
must still decode (UTF-8 or Windows-1252), or the file is quarantined with the line."""

from __future__ import annotations

import codecs
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

import duckdb
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
alter table ops.file_manifest add column if not exists encoding varchar;          -- what the bytes were
alter table ops.file_manifest add column if not exists columns_ignored varchar;   -- not in the contract, not read
create table if not exists ops.file_rejects (
    run_id varchar not null,
    object_key varchar not null,
    line bigint,
    column_name varchar,
    error_type varchar not null
);
"""


ENCODING_MISMATCH_RULES = ("decode", "quarantine")
DUPLICATE_KEY_RULES = ("keep_first", "keep_last", "quarantine")


class ContractError(ValueError):
    """A file does not match its declared contract; names the file and the column(s). A refusal
    for malformed lines carries them (line, column, error type: never the values) for the tables."""

    def __init__(self, message: str, *, malformed: int | None = None, rejects: list[tuple] | None = None):
        super().__init__(message)
        self.malformed = malformed
        self.rejects = rejects or []


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
    # What the bytes say wins over the declaration: decode them as what they are and report, or
    # quarantine the file.
    on_encoding_mismatch: str = "decode"
    # Lines repeating the primary key: keep the first or the last of them (reported), or quarantine.
    on_duplicate_key: str = "quarantine"
    # Which of the repeated lines comes first: "column [asc|desc]" terms, then file order.
    duplicate_order: tuple[str, ...] = ()
    # Per millésime, a column's name in that year's file -> its name in the contract.
    renames: dict[int, dict[str, str]] = field(default_factory=dict)
    # Declared columns some millésimes lack: NULL there (reported), not a broken contract.
    optional: tuple[str, ...] = ()
    # Other delimiters a millésime may use (LOVAC: ';' until 2024, '|' since 2025): the header decides.
    other_delimiters: tuple[str, ...] = ()
    # Values read as NULL (LOVAC 2024 writes \N).
    null_values: tuple[str, ...] = ("",)

    def __post_init__(self):
        where = f"dataset {self.family}.{self.name}"
        if self.format not in ("csv", "parquet"):
            raise ValueError(f"{where}: format must be csv or parquet, got {self.format!r}")
        if self.compression not in ("none", "gzip"):
            raise ValueError(f"{where}: compression must be none or gzip, got {self.compression!r}")
        if self.on_contract_error not in ("fail", "warn"):
            raise ValueError(f"{where}: on_contract_error must be fail or warn, got {self.on_contract_error!r}")
        if self.on_encoding_mismatch not in ENCODING_MISMATCH_RULES:
            raise ValueError(f"{where}: on_encoding_mismatch must be one of {ENCODING_MISMATCH_RULES}")
        if self.on_duplicate_key not in DUPLICATE_KEY_RULES:
            raise ValueError(f"{where}: on_duplicate_key must be one of {DUPLICATE_KEY_RULES}")
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
    delimiter: OneCharacter | list[OneCharacter] | None = None
    quote: OneCharacter | None = None
    null_values: list[Annotated[str, StringConstraints(strip_whitespace=False)]] | None = None
    optional: ColumnList = []
    encoding: Literal["utf-8", "latin-1", "windows-1252"] | None = None
    on_encoding_mismatch: Literal["decode", "quarantine"] = "decode"
    compression: Literal["none", "gzip"] | None = None
    primary_key: ColumnList = Field(min_length=1)
    on_duplicate_key: Literal["keep_first", "keep_last", "quarantine"] = "quarantine"
    duplicate_order: list[Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]* (asc|desc)$")]] = []
    columns: dict[str, Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    renames: dict[int, dict[str, str]] = {}
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
        if isinstance(self.delimiter, list) and not self.delimiter:
            raise ValueError("delimiter: give one character or a non-empty list of candidates")
        for name in self.optional:
            if name not in self.columns:
                raise ValueError(f"optional: column {name} is not in columns{close_match(name, self.columns)}")
            if name in self.primary_key:
                raise ValueError(f"optional: key column {name} cannot be optional")
        for term in self.duplicate_order:
            name = term.split()[0]
            if name not in self.columns:
                raise ValueError(f"duplicate_order: column {name} is not in columns{close_match(name, self.columns)}")
            if name in self.drop:
                raise ValueError(f"duplicate_order: column {name} is dropped, so it cannot order the lines")
        for millesime, renames in self.renames.items():
            for old, new in renames.items():
                if new not in self.columns:
                    raise ValueError(f"renames.{millesime}.{old}: {new} is not in columns{close_match(new, self.columns)}")
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
        delimiter=(declared.delimiter[0] if isinstance(declared.delimiter, list) else declared.delimiter) or ",",
        other_delimiters=tuple(declared.delimiter[1:]) if isinstance(declared.delimiter, list) else (),
        null_values=tuple(declared.null_values) if declared.null_values is not None else ("",),
        optional=tuple(declared.optional),
        quote=declared.quote or '"',
        encoding=declared.encoding or "utf-8",
        compression=declared.compression or "none",
        drop=tuple(declared.drop),
        pseudonymise=tuple(declared.pseudonymise),
        max_malformed_share=(
            declared.max_malformed_share if declared.max_malformed_share is not None else defaults.max_malformed_share
        ),
        on_contract_error=declared.on_contract_error or defaults.on_contract_error,
        on_encoding_mismatch=declared.on_encoding_mismatch,
        on_duplicate_key=declared.on_duplicate_key,
        duplicate_order=tuple(declared.duplicate_order),
        renames={int(m): dict(r) for m, r in declared.renames.items()},
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
    status: str  # loaded | unchanged | quarantined | missing | failed (storage or warehouse: retried)
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
        counts = {s: len(self.by_status(s)) for s in ("loaded", "unchanged", "quarantined", "missing", "failed")}
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
        aws_session_token=s3.session_token,
        region_name=s3.region,
        # Unreachable storage fails in seconds, not minutes (botocore waits 60 s per connection by
        # default): 3 attempts of 5 s to connect; the Airflow task retries once more after 30 s.
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        ),
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
    gz: _GzipEnd | None = None
    written = 0
    try:
        with path.open("wb") as out:
            for chunk in response["Body"].iter_chunks(CHUNK):
                if written == 0 and chunk.startswith(b"\x1f\x8b"):  # gzip by its bytes, whatever was declared
                    gz = _GzipEnd()
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


# --- what the bytes are -------------------------------------------------------------------------

# First bytes of the containers a delivery may come in; only gzip is read.
MAGIC_BYTES = (
    (b"\x1f\x8b", "gzip"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"PK\x03\x04", "zip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PAR1", "parquet"),
)
UNSUPPORTED_CONTAINERS = ("7z", "zip", "bzip2", "xz")
DECODE_CHUNK = 16 * 1024 * 1024


@dataclass
class PreparedFile:
    """The file DuckDB reads (UTF-8 text, or the Parquet file), and what was found on the way."""

    path: Path
    compression: str  # as DuckDB reads `path`: gzip | none
    encoding: str  # what the bytes are: ascii | utf-8 | windows-1252 (parquet: binary)
    header: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # mismatches with the declaration, reported
    delimiter: str = ","


def container_of(path: Path) -> str:
    """gzip, 7z, zip, bzip2, xz, parquet or none (plain bytes), from the file's first bytes."""
    with path.open("rb") as f:
        head = f.read(8)
    return next((name for magic, name in MAGIC_BYTES if head.startswith(magic)), "none")


def _open_stream(path: Path, container: str):
    return gzip.open(path, "rb") if container == "gzip" else path.open("rb")


def _line_of(stream_path: Path, container: str, offsets: list[int]) -> dict[int, int]:
    """Physical line (1-based) of each byte offset of the (decompressed) stream."""
    wanted = sorted(set(offsets))
    found: dict[int, int] = {}
    seen = newlines = 0
    with _open_stream(stream_path, container) as stream:
        while wanted and (chunk := stream.read(DECODE_CHUNK)):
            while wanted and wanted[0] < seen + len(chunk):
                found[wanted[0]] = newlines + chunk.count(b"\n", 0, wanted[0] - seen) + 1
                wanted.pop(0)
            newlines += chunk.count(b"\n")
            seen += len(chunk)
    for offset in wanted:
        found[offset] = newlines + 1
    return found


def record_lines(path: Path, container: str, quote: str, records: list[int]) -> dict[int, int]:
    """Physical line (1-based) where each data record (1-based, header excluded) starts: a quoted
    value may hold newlines, so records and lines differ after the first one that does. Reads the
    UTF-8 file up to the last record asked, counting quotes line by line."""
    wanted = sorted(set(records))
    found: dict[int, int] = {}
    q = quote.encode("utf-8")
    record, at_record_start = 0, True  # the header is record 0
    with _open_stream(path, container) as f:
        for number, line in enumerate(f, start=1):
            if not wanted:
                break
            if at_record_start:
                if record == wanted[0]:
                    found[record] = number
                    wanted.pop(0)
                record += 1
            if line.count(q) % 2:  # an odd number of quotes opens or closes a quoted value
                at_record_start = not at_record_start
    return found


def prepare(ds: DatasetSpec, path: Path, url: str, folder: Path) -> PreparedFile:
    """Decide compression and encoding from the bytes, not the declaration: a gzip body is read as
    gzip whatever its key says; valid UTF-8 is read as UTF-8, anything else as Windows-1252 (which
    "Latin-1" exports really are: Latin-1 plus ’ œ € ... in 0x80-0x9F), transcoded to UTF-8 on the
    way. A byte no candidate decodes quarantines the file with its physical line. What differs
    from the declaration is reported, or quarantined (`on_encoding_mismatch: quarantine`)."""
    where = f"file {url} (dataset {ds.family}.{ds.name})"
    container = container_of(path)
    notes: list[str] = []
    if container in UNSUPPORTED_CONTAINERS:
        raise ContractError(
            f"{where}: a {container} archive, which is not read (deliver the CSV itself, or gzip-compressed; "
            f"e.g. extract the 7z delivery of the Fichiers Fonciers and upload its CSV files)"
        )
    if ds.format == "parquet":
        if container != "parquet":
            raise ContractError(f"{where}: declared parquet but the file is not Parquet (its first bytes say {container})")
        return PreparedFile(path, "none", "binary")
    if container == "parquet":
        raise ContractError(f"{where}: a Parquet file under a dataset declared csv")
    suffix_says_gzip = url.endswith(".gz")
    if (container == "gzip") != (ds.compression == "gzip") or (container == "gzip") != suffix_says_gzip:
        notes.append(
            f"compression read from the bytes: {container} (declared {ds.compression}, key suffix "
            f"{'.gz' if suffix_says_gzip else 'without .gz'})"
        )
    # One pass: is it UTF-8?
    utf8, ascii_only, first_bad = True, True, ""
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines = 0
    try:
        with _open_stream(path, container) as stream:
            while chunk := stream.read(DECODE_CHUNK):
                ascii_only = ascii_only and chunk.isascii()
                if not ascii_only:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError as exc:
                        at = min(max(exc.start, 0), len(chunk) - 1)
                        line = newlines + chunk.count(b"\n", 0, at) + 1
                        first_bad = f"byte 0x{chunk[at]:02X} at line {line}"
                        raise
                newlines += chunk.count(b"\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        utf8 = False
    except (OSError, EOFError, zlib.error) as exc:
        raise ContractError(f"{where}: unreadable as {container}: {exc}") from None
    if utf8:
        encoding, prepared, compression = ("ascii" if ascii_only else "utf-8"), path, container
    else:
        encoding, prepared, compression = "windows-1252", folder / f"{path.name}.utf8.csv", "none"
        _transcode_windows_1252(path, container, prepared, where, first_bad)
    declared_family = "utf-8" if ds.encoding == "utf-8" else "windows-1252"
    if encoding != "ascii" and encoding != declared_family:
        what = f"declared {ds.encoding}, but the bytes are {encoding}"
        if ds.on_encoding_mismatch == "quarantine":
            raise ContractError(f"{where}: {what} (on_encoding_mismatch: quarantine)")
        notes.append(f"{what}: decoded as {encoding}")
    delimiter, header = _csv_header(ds, prepared, compression, where)
    return PreparedFile(prepared, compression, encoding, header, notes, delimiter)


# A valid UTF-8 multi-byte character (2 to 4 bytes). In real Windows-1252 text such byte pairs
# are nonsense ("Ã©", "â€™"): their share of the non-ASCII bytes tells a UTF-8 file with a few
# stray bytes (mixed encodings, which decoding as Windows-1252 would garble) from a Windows-1252 one.
_UTF8_SEQUENCE = re.compile(
    rb"[\xC2-\xDF][\x80-\xBF]|\xE0[\xA0-\xBF][\x80-\xBF]|[\xE1-\xEF][\x80-\xBF]{2}"
    rb"|\xF0[\x90-\xBF][\x80-\xBF]{2}|[\xF1-\xF4][\x80-\xBF]{3}"
)
_HIGH_BYTES = bytes(range(0x80, 0x100))
MIXED_ENCODING_SHARE = 0.5
MIXED_ENCODING_SAMPLE_CHUNKS = 4  # the first 64 MB tell; a national file is not scanned twice


def _transcode_windows_1252(path: Path, container: str, out: Path, where: str, first_bad: str = "") -> None:
    """Windows-1252 -> UTF-8, streamed; its five undefined bytes (0x81 0x8D 0x8F 0x90 0x9D, control
    characters in Latin-1) stop it with their physical line, and so does a file that is mostly
    UTF-8 with a few bytes that are not (mixed encodings): never loaded as mojibake."""
    decoder = codecs.getincrementaldecoder("cp1252")("strict")
    newlines = high = in_utf8 = sampled = 0
    with _open_stream(path, container) as stream, out.open("wb") as target:
        while chunk := stream.read(DECODE_CHUNK):
            sampled += 1
            if sampled <= MIXED_ENCODING_SAMPLE_CHUNKS and not chunk.isascii():
                high += len(chunk) - len(chunk.translate(None, _HIGH_BYTES))
                in_utf8 += sum(len(m) for m in _UTF8_SEQUENCE.findall(chunk))
            try:
                target.write(decoder.decode(chunk).encode("utf-8"))
            except UnicodeDecodeError as exc:
                if not _mostly_utf8(in_utf8, high):
                    line = newlines + chunk.count(b"\n", 0, exc.start) + 1
                    raise ContractError(
                        f"{where}: byte 0x{chunk[exc.start]:02X} at line {line} is a character in none of UTF-8, "
                        f"Windows-1252 or Latin-1: the file is damaged or in another encoding"
                    ) from None
                break  # mixed: reported below with the first byte that is not UTF-8
            newlines += chunk.count(b"\n")
        target.write(decoder.decode(b"", final=True).encode("utf-8"))
    if _mostly_utf8(in_utf8, high):
        out.unlink(missing_ok=True)
        raise ContractError(
            f"{where}: mixed encodings - mostly UTF-8 ({in_utf8:,} of its {high:,} non-ASCII bytes form UTF-8 "
            f"characters) but {first_bad or 'some bytes'} is not UTF-8: decoding it as Windows-1252 would garble "
            f"every accented character; re-export the file in one encoding"
        )


def _mostly_utf8(in_utf8: int, high: int) -> bool:
    return high > 0 and in_utf8 >= MIXED_ENCODING_SHARE * high


def _csv_header(ds: DatasetSpec, path: Path, container: str, where: str) -> tuple[str, list[str]]:
    """(delimiter, header fields): the header line split by the declared delimiter, or by the
    candidate (`other_delimiters`) that splits it into the most fields. One line read."""
    with _open_stream(path, container) as f:
        raw = f.readline(1024 * 1024)
    if not raw.strip():
        raise ContractError(f"{where}: empty file (no header line)")
    line = raw.decode("utf-8").lstrip("\ufeff").rstrip("\r\n")
    splits = [(d, next(csv.reader([line], delimiter=d, quotechar=ds.quote))) for d in (ds.delimiter, *ds.other_delimiters)]
    return max(splits, key=lambda split: len(split[1]))  # max keeps the first of equals: the declared one


@dataclass
class ColumnMap:
    """The file's columns in file order, each with the contract name it feeds (None: not read)."""

    file_columns: list[tuple[str, str | None]]
    ignored: list[str]
    renamed: dict[str, str]
    absent: list[str] = field(default_factory=list)  # optional columns this file lacks: NULL


def map_columns(ds: DatasetSpec, header: list[str], millesime: int, where: str) -> ColumnMap:
    """Select the declared columns by name, in any order; a missing one breaks the contract;
    columns not declared are never read (personal data denied by default) and listed."""
    names = [name.strip() or f"_unnamed_{i + 1}" for i, name in enumerate(header)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ContractError(f"{where}: column(s) {', '.join(repeated)} appear twice in the header")
    renames = ds.renames.get(millesime, {})
    mapped = [renames.get(n, n) for n in names]
    clashing = sorted({m for m in mapped if mapped.count(m) > 1})
    if clashing:
        raise ContractError(f"{where}: renames for {millesime} give column(s) {', '.join(clashing)} twice")
    absent = [c for c in ds.optional if c not in mapped]
    missing = [c for c in ds.columns if c not in mapped and c not in ds.optional]
    if missing:
        unread = [n for n, m in zip(names, mapped, strict=True) if m not in ds.columns]
        hints = "".join(close_match(c, unread) for c in missing)
        delimiter = ""
        if len(names) == 1 and any(d in names[0] for d in ",;|\t"):
            delimiter = f" (one column read with delimiter {ds.delimiter!r}: wrong delimiter?)"
        rename_hint = f"; add a rename under renames.{millesime} if the column was renamed that year" if hints else ""
        raise ContractError(f"{where} breaks its contract: missing column(s) {missing}{hints}{delimiter}{rename_hint}")
    file_columns = [(n, m if m in ds.columns else None) for n, m in zip(names, mapped, strict=True)]
    return ColumnMap(
        file_columns,
        ignored=[n for n, m in file_columns if m is None],
        renamed={n: m for n, m in file_columns if m and m != n},
        absent=absent,
    )


def _normalised_type(con, type_name: str) -> str:
    return con.execute(f"select typeof(cast(null as {type_name}))").fetchone()[0]


def check_parquet_contract(con, ds: DatasetSpec, path: Path, url: str) -> ColumnMap:
    """Declared columns present (optional ones may lack) with their declared types; the others are not read."""
    where = f"file {url} (dataset {ds.family}.{ds.name})"
    found = dict(
        con.execute(
            f"select column_name, column_type from (describe select * from read_parquet({quote_literal(str(path))}))"
        ).fetchall()
    )
    missing = [c for c in ds.columns if c not in found and c not in ds.optional]
    if missing:
        raise ContractError(f"{where} breaks its contract: missing column(s) {missing}")
    retyped = [
        f"column {c}: expected {_normalised_type(con, t)}, found {found[c]}"
        for c, t in ds.columns.items()
        if c in found and _normalised_type(con, t) != found[c]
    ]
    if retyped:
        raise ContractError(f"{where} breaks its contract: {'; '.join(retyped)}")
    file_columns = [(c, c if c in ds.columns else None) for c in found]
    return ColumnMap(
        file_columns,
        ignored=[c for c in found if c not in ds.columns],
        renamed={},
        absent=[c for c in ds.optional if c not in found],
    )


def _reader(ds: DatasetSpec, prepared: PreparedFile, columns: ColumnMap | None, rejects: tuple[str, str]) -> str:
    """The typed read of the prepared file, by name: every header column is named (undeclared ones
    as VARCHAR, never cast nor kept); lines that do not fit land in the rejects tables."""
    local = quote_literal(str(prepared.path))
    if ds.format == "parquet":
        return f"read_parquet({local})"
    struct = ", ".join(
        f"{quote_literal(contract or name)}: {quote_literal(ds.columns[contract] if contract else 'VARCHAR')}"
        for name, contract in columns.file_columns
    )
    return (
        f"read_csv({local}, header = true, delim = {quote_literal(prepared.delimiter)}, quote = {quote_literal(ds.quote)}, "
        f"nullstr = [{', '.join(quote_literal(v) for v in ds.null_values)}], "
        f"encoding = 'utf-8', compression = {quote_literal(prepared.compression)}, auto_detect = false, "
        f"columns = {{{struct}}}, store_rejects = true, "
        f"rejects_table = {quote_literal(rejects[0])}, rejects_scan = {quote_literal(rejects[1])})"
    )


# --- load -------------------------------------------------------------------------------------


def _target_ddl(ds: DatasetSpec) -> str:
    cols = [f"{quote_ident(c)} {'VARCHAR' if c in ds.pseudonymise else t}" for c, t in ds.columns.items() if c not in ds.drop]
    cols += [
        "millesime INTEGER NOT NULL",
        "departement VARCHAR",
        "_source_key VARCHAR NOT NULL",
        "_loaded_at TIMESTAMP NOT NULL",
        "_source_record BIGINT",  # the data record's number in its object (1 = first after the header)
    ]
    return f"create table if not exists {ds.target} ({', '.join(cols)})"


def _target_columns(ds: DatasetSpec) -> list[str]:
    return [c for c in ds.columns if c not in ds.drop] + ["millesime", "departement", "_source_key", "_loaded_at"]


def _select_list(ds: DatasetSpec, ref: ObjectRef, absent: tuple[str, ...] | list[str] = ()) -> str:
    select = []
    for c in ds.columns:
        if c in ds.drop:
            continue
        if c in absent:  # an optional column this millésime lacks
            select.append(f"cast(null as {'VARCHAR' if c in ds.pseudonymise else ds.columns[c]}) as {quote_ident(c)}")
        elif c in ds.pseudonymise:
            select.append(f"{pii.hmac_sql(quote_ident(c))} as {quote_ident(c)}")
        else:
            select.append(quote_ident(c))
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
        "status, rows_loaded, rows_malformed, reason, run_id, loaded_at, encoding, columns_ignored) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::timestamp, ?, ?)",
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
            values.get("encoding"),
            ", ".join(values["ignored"]) if values.get("ignored") else None,
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
        where = f"file {ref.url} (dataset {ds.family}.{ds.name})"
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
                prepared = prepare(ds, path, ref.url, folder)
                if ds.format == "csv":
                    columns = map_columns(ds, prepared.header, ref.millesime, where)
                else:
                    columns = check_parquet_contract(con, ds, path, ref.url)
                ignored = columns.ignored
                return _replace_rows(con, ds, ref, prepared, columns, ignored, etag, size, run_id, hash_key, record)
            except ContractError as exc:
                return _quarantine(con, ref, etag, size, run_id, record, str(exc), exc.malformed, exc.rejects)
            except (duckdb.IOException, duckdb.OutOfMemoryException, OSError) as exc:
                # the warehouse's disk or memory, not the file: the task retries
                message = f"{where}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
                load_log.write(con, record, "failed", message)
                raise FileIngestError(message) from None
            except Exception as exc:
                # whatever else the file makes fail (decode, parse, type) is that file's quarantine
                first = str(exc).splitlines()[0] if str(exc) else ""
                return _quarantine(
                    con, ref, etag, size, run_id, record, f"{where}: unreadable ({type(exc).__name__}: {first[:300]})"
                )


def _replace_rows(con, ds, ref, prepared, columns, ignored, etag, size, run_id, hash_key, record) -> ObjectOutcome:
    where = f"file {ref.url} (dataset {ds.family}.{ds.name})"
    if ds.pseudonymise:
        pii.install_key(con, pii.require_key(hash_key))
    rejects = ("_zlv_rejects", "_zlv_reject_scans")
    con.execute(f"drop table if exists {rejects[0]}; drop table if exists {rejects[1]}; drop table if exists _zlv_repeated")
    target_columns = ", ".join(quote_ident(c) for c in _target_columns(ds))
    try:
        con.execute("begin transaction")
        con.execute(f"create schema if not exists {quote_ident(f'raw_{ds.family}')}")
        con.execute(_target_ddl(ds))
        con.execute(f"alter table {ds.target} add column if not exists departement varchar")
        con.execute(f"alter table {ds.target} add column if not exists _source_record bigint")
        # Straight into the target, in one pass over the file (a staging copy of a national
        # millésime cost a second write and ~250 MB of peak RSS); the transaction hides the rows
        # until the checks below pass. DuckDB keeps insertion order, so _source_record is the
        # data record's number in the object (row_number() over () streams).
        con.execute(f"delete from {ds.target} where _source_key = ?", [ref.key])
        staged = con.execute(
            f"insert into {ds.target} ({target_columns}, _source_record) "
            f"select {_select_list(ds, ref, columns.absent if columns else ())}, row_number() over () "
            f"from {_reader(ds, prepared, columns, rejects)}"
        ).fetchone()[0]
        bad = []
        if ds.format == "csv":
            bad = con.execute(
                # a short line (MISSING COLUMNS) is reported at its end, the next line's first byte
                f"select case when error_type = 'MISSING COLUMNS' then byte_position - 1 else byte_position end, "
                f"column_name, error_type from {rejects[0]} order by 1"
            ).fetchall()
            if bad:
                lines = _line_of(prepared.path, prepared.compression, [b for b, _, _ in bad])
                bad = [(lines[b], c, e) for b, c, e in bad]
        malformed = len({line for line, _, _ in bad})
        total = staged + malformed
        if malformed and malformed > ds.max_malformed_share * total:
            raise ContractError(
                f"{where}: {malformed:,} of {total:,} row(s) malformed ({malformed / total:.2%} > "
                f"{ds.max_malformed_share:.2%} allowed): {_describe_rejects(bad, ds)}",
                malformed=malformed,
                rejects=bad,
            )
        if total == 0:  # replacing a millésime with nothing is never what a delivery means
            raise ContractError(f"{where}: a header and no data row")
        duplicates = _duplicates(con, ds, ref, prepared)
        notes = list(prepared.notes)
        if duplicates:
            repeated, lines_count, examples = duplicates
            text = (
                f"{repeated:,} value(s) of key ({', '.join(ds.primary_key)}) repeated on {lines_count:,} line(s), e.g. {examples}"
            )
            if ds.on_duplicate_key == "quarantine":
                raise ContractError(f"{where}: {text} (on_duplicate_key: quarantine)")
            order = [f"{quote_ident(t.split()[0])} {t.split()[1]} nulls last" for t in ds.duplicate_order]
            order.append("_source_record" + (" desc" if ds.on_duplicate_key == "keep_last" else ""))
            # Ranked among the repeated keys' lines only (0.04-0.25% of a LOVAC millésime).
            dropped = con.execute(
                f"delete from {ds.target} where _source_key = ? and _source_record in ("
                f"select t._source_record from {ds.target} as t join _zlv_repeated as r on {_same_key(ds, 't', 'r')} "
                f"where t._source_key = ? "
                f"qualify row_number() over (partition by {', '.join('t.' + quote_ident(k) for k in ds.primary_key)} "
                f"order by {', '.join('t.' + o for o in order)}) > 1)",
                [ref.key, ref.key],
            ).fetchone()[0]
            rule = ds.on_duplicate_key.removeprefix("keep_")
            by = f" by {', '.join(ds.duplicate_order)}" if ds.duplicate_order else ""
            notes.append(f"{text}: kept the {rule} line of each{by}")
        if ignored:
            notes.append(
                f"{len(ignored)} column(s) not in the contract, not read: {', '.join(ignored[:20])}{' ...' if len(ignored) > 20 else ''}"
            )
        if columns is not None and columns.absent:
            notes.append(f"optional column(s) absent from this millésime, stored empty: {', '.join(columns.absent)}")
        if columns is not None and columns.renamed:
            notes.append(
                "renamed for " + str(ref.millesime) + ": " + ", ".join(f"{a} -> {b}" for a, b in columns.renamed.items())
            )
        inserted = staged - (dropped if duplicates else 0)
        dup = duplicate_keys(con, ds.target, ds.primary_key, where="millesime = ?", params=[ref.millesime])
        if dup:
            raise ContractError(
                f"{where}: {dup} value(s) of key ({', '.join(ds.primary_key)}) in millésime {ref.millesime} "
                f"are also fed by another object of that millésime"
            )
        if bad:
            con.executemany(
                "insert into ops.file_rejects values (?, ?, ?, ?, ?)",
                [(run_id, ref.key, line, column, error_type) for line, column, error_type in bad[:REJECTS_KEPT_PER_OBJECT]],
            )
        if malformed:
            notes.insert(0, f"{malformed:,} malformed row(s) skipped: {_describe_rejects(bad, ds)}")
        reason = "; ".join(notes) or None
        _manifest_write(
            con,
            ref,
            etag,
            size,
            "loaded",
            run_id,
            rows=inserted,
            malformed=malformed,
            reason=reason,
            encoding=prepared.encoding,
            ignored=ignored,
        )
        record.rows_loaded = record.rows_inserted = inserted
        record.rows_read = total
        load_log.write(con, record, "success", reason)
        con.execute("commit")
    except Exception:
        rollback_quietly(con)
        raise
    finally:
        con.execute("drop table if exists _zlv_repeated")
    if reason:
        log.warning("%s: loaded %s rows; %s", where, f"{inserted:,}", reason)
    else:
        log.info("%s: loaded %s rows into %s", where, f"{inserted:,}", ds.target)
    return ObjectOutcome(ref.key, ref.dataset, "loaded", rows=inserted, malformed=malformed, reason=reason)


def _same_key(ds: DatasetSpec, left: str, right: str) -> str:
    """The join condition of two aliases on the primary key, NULL equal to NULL (as GROUP BY
    counts them: real files hold lines with an empty key)."""
    return " and ".join(f"{left}.{quote_ident(k)} is not distinct from {right}.{quote_ident(k)}" for k in ds.primary_key)


def _duplicates(con, ds: DatasetSpec, ref: ObjectRef, prepared: PreparedFile) -> tuple[int, int, str] | None:
    """(keys repeated, lines holding them, a few examples with their physical lines) or None.
    The repeated keys are kept in the temporary table _zlv_repeated for the rule that follows."""
    keys = ", ".join(quote_ident(k) for k in ds.primary_key)
    con.execute(
        f"create temp table _zlv_repeated as select {keys}, count(*) as n, min(_source_record) as first_record "
        f"from {ds.target} where _source_key = ? group by {keys} having count(*) > 1",
        [ref.key],
    )
    repeated, lines = con.execute("select count(*), coalesce(sum(n), 0) from _zlv_repeated").fetchone()
    if not repeated:
        return None
    examples = con.execute(
        f"select {', '.join('t.' + quote_ident(k) for k in ds.primary_key)}, "
        f"list(t._source_record order by t._source_record) from {ds.target} as t "
        f"join (select * from _zlv_repeated order by first_record limit 3) as r on {_same_key(ds, 't', 'r')} "
        f"where t._source_key = ? group by all order by min(t._source_record)",
        [ref.key],
    ).fetchall()
    physical = (
        record_lines(prepared.path, prepared.compression, ds.quote, [r for *_, recs in examples for r in recs])
        if ds.format == "csv"
        else {}
    )
    shown = "; ".join(
        f"{'/'.join(str(v) for v in key)} at line(s) {', '.join(str(physical.get(r, r + 1)) for r in recs)}"
        for *key, recs in examples
    )
    return repeated, lines, shown


def _quarantine(con, ref, etag, size, run_id, record, reason, malformed=None, rejects=()) -> ObjectOutcome:
    """Record the refusal (manifest + load log, and for malformed lines their count and first
    lines in ops.file_rejects); the rows the object fed before are untouched."""
    log.error("quarantined: %s", reason)
    con.execute("begin transaction")
    _manifest_write(con, ref, etag, size, "quarantined", run_id, reason=reason, malformed=malformed)
    if rejects:
        con.execute("delete from ops.file_rejects where object_key = ? and run_id = ?", [ref.key, run_id])
        con.executemany(
            "insert into ops.file_rejects values (?, ?, ?, ?, ?)",
            [(run_id, ref.key, line, column, error_type) for line, column, error_type in rejects[:REJECTS_KEPT_PER_OBJECT]],
        )
    load_log.write(con, record, "quarantined", reason)
    con.execute("commit")
    return ObjectOutcome(ref.key, ref.dataset, "quarantined", malformed=malformed or 0, reason=reason)


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
    failed = report.by_status("failed")
    log.info("%s", report.summary())
    for o in new_quarantines:
        log.error("quarantined %s: %s", o.key, o.reason)
    for o in failed:
        log.error("not loaded (storage or warehouse error, retried next run): %s", o.reason)
    if failed:
        raise FileIngestError(
            f"{len(failed)} file(s) of family {family.name} could not be read (the others were): "
            + "; ".join(o.reason or o.key for o in failed)
            + (f"; and {len(failing)} quarantined: " + "; ".join(o.reason or o.key for o in failing) if failing else "")
        )
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
    outcomes = []
    for ref in listed:  # one object's failure never stops the others
        try:
            outcomes.append(
                load_object(
                    ref,
                    family.dataset(ref.dataset),
                    s3=s3,
                    warehouse=warehouse,
                    run_id=run_id,
                    hash_key=hash_key,
                    extension_dir=extension_dir,
                )
            )
        except FileIngestError as exc:
            outcomes.append(ObjectOutcome(ref.key, ref.dataset, "failed", reason=str(exc)))
    return finish_family(family, listed, outcomes, warehouse=warehouse, run_id=run_id)


def ingest_all(config: FilesConfig, *, bucket: str | None = None, **kwargs) -> dict[str, FamilyReport]:
    """Every declared family from the configured bucket (or `bucket`), one after another: the
    pipeline without Airflow (demo, tests, benches)."""
    return {name: ingest_family(family, bucket=bucket or config.bucket, **kwargs) for name, family in config.families.items()}
