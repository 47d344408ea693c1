"""Load the national files (LOCOMVAC, FF) from S3-compatible storage into raw_<family>.<dataset>.

One object = one millésime of one dataset. Its header is checked against the declared contract
before anything is written; its rows replace that millésime's rows in one transaction, so other
millésimes and a previous good load are never damaged by a bad file. DuckDB reads the object
straight from S3 (httpfs), streaming: no file is read into Python."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import yaml
from botocore.config import Config

from zlv_dwh import load_log, pii
from zlv_dwh.settings import CONFIG_DIR
from zlv_dwh.warehouse import connect, duplicate_keys, quote_ident, quote_literal, rollback_quietly

log = logging.getLogger(__name__)


class ContractError(ValueError):
    """A file does not match its declared contract; names the file and the columns."""


class FileIngestError(RuntimeError):
    """One or more objects of a family failed; each failure is in the load log."""


@dataclass(frozen=True)
class S3Settings:
    """How to reach the object store; built from the Airflow connection, never logged."""

    endpoint_url: str | None
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"

    def __repr__(self) -> str:  # keep keys out of logs and tracebacks
        return f"S3Settings(endpoint_url={self.endpoint_url!r}, region={self.region!r})"


@dataclass(frozen=True)
class DatasetSpec:
    family: str
    name: str
    key_pattern: str
    columns: dict[str, str]
    primary_key: tuple[str, ...]
    delimiter: str = ","
    quote: str = '"'
    encoding: str = "utf-8"
    compression: str = "none"
    drop: tuple[str, ...] = ()
    pseudonymise: tuple[str, ...] = ()

    @property
    def prefix(self) -> str:
        return self.key_pattern.split("{millesime}")[0]

    def millesime_of(self, key: str) -> int | None:
        regex = "^" + re.escape(self.key_pattern).replace(re.escape("{millesime}"), r"(\d{4})") + "$"
        match = re.match(regex, key)
        return int(match.group(1)) if match else None


@dataclass(frozen=True)
class FamilySpec:
    name: str
    description: str
    datasets: tuple[DatasetSpec, ...]


@dataclass(frozen=True)
class FilesConfig:
    connection_id: str
    bucket: str
    families: dict[str, FamilySpec]


def load_config(path: Path | None = None) -> FilesConfig:
    raw = yaml.safe_load(Path(path or CONFIG_DIR / "file_families.yml").read_text(encoding="utf-8"))
    families = {}
    for fam_name, fam in raw["families"].items():
        datasets = tuple(
            DatasetSpec(
                family=fam_name,
                name=ds_name,
                key_pattern=ds["key_pattern"],
                columns=dict(ds["columns"]),
                primary_key=tuple(ds["primary_key"]),
                delimiter=ds.get("delimiter", ","),
                quote=ds.get("quote", '"'),
                encoding=ds.get("encoding", "utf-8"),
                compression=ds.get("compression", "none"),
                drop=tuple(ds.get("drop", ())),
                pseudonymise=tuple(ds.get("pseudonymise", ())),
            )
            for ds_name, ds in fam["datasets"].items()
        )
        families[fam_name] = FamilySpec(fam_name, fam.get("description", ""), datasets)
    return FilesConfig(raw["connection_id"], raw["bucket"], families)


@dataclass
class ObjectResult:
    dataset: str
    key: str
    millesime: int
    rows: int | None = None
    error: str | None = None


@dataclass
class FamilyResult:
    family: str
    objects: list[ObjectResult] = field(default_factory=list)

    @property
    def failed(self) -> list[ObjectResult]:
        return [o for o in self.objects if o.error]


def s3_client(s3: S3Settings):
    """A boto3 client for S3-compatible storage (Cellar, MinIO, moto): path-style, a few retries."""
    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
        region_name=s3.region,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}),
    )


def list_objects(s3: S3Settings, bucket: str, dataset: DatasetSpec) -> list[tuple[str, int]]:
    """(key, millésime) of every object matching the dataset's key pattern, oldest millésime first."""
    found = []
    for page in s3_client(s3).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=dataset.prefix):
        for obj in page.get("Contents", []):
            millesime = dataset.millesime_of(obj["Key"])
            if millesime is not None:
                found.append((obj["Key"], millesime))
    return sorted(found, key=lambda kv: kv[1])


def _create_s3_secret(con, s3: S3Settings) -> None:
    options = [
        "type s3",
        f"key_id {quote_literal(s3.access_key_id)}",
        f"secret {quote_literal(s3.secret_access_key)}",
        f"region {quote_literal(s3.region)}",
        "url_style 'path'",
    ]
    if s3.endpoint_url:
        scheme, _, host = s3.endpoint_url.partition("://")
        options += [f"endpoint {quote_literal(host.rstrip('/'))}", f"use_ssl {'true' if scheme == 'https' else 'false'}"]
    con.execute(f"create or replace temporary secret zlv_s3 ({', '.join(options)})")


def _csv_options(ds: DatasetSpec) -> str:
    return (
        f"header = true, delim = {quote_literal(ds.delimiter)}, quote = {quote_literal(ds.quote)}, "
        f"encoding = {quote_literal(ds.encoding)}, compression = {quote_literal(ds.compression)}"
    )


def check_header(con, url: str, ds: DatasetSpec) -> None:
    """Refuse a file whose columns differ from the contract, naming each difference."""
    found = [
        r[0]
        for r in con.execute(
            f"describe select * from read_csv({quote_literal(url)}, {_csv_options(ds)}, all_varchar = true)"
        ).fetchall()
    ]
    expected = list(ds.columns)
    missing = [c for c in expected if c not in found]
    extra = [c for c in found if c not in expected]
    if missing or extra:
        raise ContractError(
            f"file s3://{url.split('://', 1)[1]} (dataset {ds.family}.{ds.name}) breaks its contract: "
            f"missing column(s) {missing}, unexpected column(s) {extra}"
        )


def _target_ddl(ds: DatasetSpec, target: str) -> str:
    cols = [f"{quote_ident(c)} {'VARCHAR' if c in ds.pseudonymise else t}" for c, t in ds.columns.items() if c not in ds.drop]
    cols += ["millesime INTEGER NOT NULL", "_source_key VARCHAR NOT NULL", "_loaded_at TIMESTAMP NOT NULL"]
    return f"create table if not exists {target} ({', '.join(cols)})"


def load_object(con, ds: DatasetSpec, bucket: str, key: str, millesime: int, run_id: str, hash_key: bytes | None) -> int:
    """Replace one millésime of one dataset with the rows of one object, atomically."""
    url = f"s3://{bucket}/{key}"
    schema = quote_ident(f"raw_{ds.family}")
    target = f"{schema}.{quote_ident(ds.name)}"
    if ds.pseudonymise:
        pii.install_key(con, pii.require_key(hash_key))
    columns_struct = "{" + ", ".join(f"{quote_literal(c)}: {quote_literal(t)}" for c, t in ds.columns.items()) + "}"
    select = [
        f"{pii.hmac_sql(quote_ident(c))} as {quote_ident(c)}" if c in ds.pseudonymise else quote_ident(c)
        for c in ds.columns
        if c not in ds.drop
    ]
    select += [f"{millesime} as millesime", f"{quote_literal(key)} as _source_key", "cast(now() as timestamp) as _loaded_at"]
    record = load_log.LoadRecord(run_id=run_id, source=ds.family, table_name=ds.name, mode="millesime", object_key=key)
    try:
        check_header(con, url, ds)
        con.execute("begin transaction")
        con.execute(f"create schema if not exists {schema}")
        con.execute(_target_ddl(ds, target))
        con.execute(f"delete from {target} where millesime = ?", [millesime])
        con.execute(
            f"insert into {target} select {', '.join(select)} "
            f"from read_csv({quote_literal(url)}, {_csv_options(ds)}, columns = {columns_struct})"
        )
        dup = duplicate_keys(con, target, ds.primary_key, where="millesime = ?", params=[millesime])
        if dup:
            raise ContractError(f"file {url}: {dup} duplicate value(s) of key ({', '.join(ds.primary_key)})")
        record.rows_loaded = con.execute(f"select count(*) from {target} where millesime = ?", [millesime]).fetchone()[0]
        load_log.write(con, record, "success")
        con.execute("commit")
    except Exception as exc:
        rollback_quietly(con)
        message = str(exc) if isinstance(exc, ContractError) else f"file {url} (dataset {ds.family}.{ds.name}): {exc}"
        load_log.write(con, record, "failed", message)
        raise ContractError(message) if isinstance(exc, ContractError) else FileIngestError(message) from exc
    return record.rows_loaded


def ingest_family(
    family: FamilySpec,
    *,
    s3: S3Settings,
    bucket: str,
    warehouse: Path,
    run_id: str,
    hash_key: bytes | None,
    extension_dir: Path | None = None,
) -> FamilyResult:
    """Load every object of every dataset of a family; one bad file does not stop the others."""
    result = FamilyResult(family.name)
    with connect(warehouse, extensions=["httpfs"], extension_dir=extension_dir) as con:
        load_log.ensure(con)
        _create_s3_secret(con, s3)
        for ds in family.datasets:
            objects = list_objects(s3, bucket, ds)
            if not objects:
                log.warning("no object under s3://%s/%s for dataset %s", bucket, ds.prefix, ds.name)
            for key, millesime in objects:
                obj = ObjectResult(ds.name, key, millesime)
                try:
                    obj.rows = load_object(con, ds, bucket, key, millesime, run_id, hash_key)
                    log.info("loaded %s rows of s3://%s/%s into raw_%s.%s", obj.rows, bucket, key, family.name, ds.name)
                except (ContractError, FileIngestError) as exc:
                    obj.error = str(exc)
                    log.error("%s", exc)
                result.objects.append(obj)
    if result.failed:
        raise FileIngestError(
            f"{len(result.failed)} of {len(result.objects)} file(s) of family {family.name} failed: "
            + "; ".join(o.error for o in result.failed)
        )
    return result
