"""The one publish step: copy the audited marts into the file Metabase reads, atomically.

The new file is written beside the old one under a temporary name, flushed to disk, then renamed
over it: a reader opens either the previous complete file or the new complete one, never a half
written file, and the pipeline never waits for readers. Publishing requires a passing RGPD audit
and a passed (or approved) indicator drift gate of the same run."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from zlv_dwh import indicator_drift, public_views, rgpd_audit
from zlv_dwh.warehouse import connect, quote_ident, quote_literal

log = logging.getLogger(__name__)


class PublishRefused(RuntimeError):
    """Nothing was published; the previous file is untouched."""


@dataclass
class PublishResult:
    path: Path
    tables: dict[str, int]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(warehouse: Path, published: Path, run_id: str, manifest: Path, marts_schema: str = "marts") -> PublishResult:
    """Publish the marts of `run_id` to `published` if, and only if, its RGPD audit and indicator
    drift gate passed: the marts as tables, and the `public` views (public columns, small cells
    suppressed) built from the classes in dbt's manifest."""
    published = Path(published)
    published.parent.mkdir(parents=True, exist_ok=True)
    tmp = published.with_name(f".{published.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    tables: dict[str, int] = {}
    try:
        # Through the one warehouse connection helper (its lock, and the same DuckDB instance a
        # task process may already hold): the marts are only read, the new file is written.
        with connect(warehouse) as con:
            verdict = rgpd_audit.verdict_of(con, run_id)
            if verdict != "pass":
                raise PublishRefused(f"run {run_id}: RGPD audit verdict is {verdict or 'missing'}; nothing published")
            drift = indicator_drift.verdict_of(con, run_id)
            if drift not in ("pass", "approved"):
                raise PublishRefused(f"run {run_id}: indicator drift gate verdict is {drift or 'missing'}; nothing published")
            names = [
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables where table_catalog = current_database() "
                    "and table_schema = ? and table_type = 'BASE TABLE' order by table_name",
                    [marts_schema],
                ).fetchall()
            ]
            if not names:
                raise PublishRefused(f"no table in schema {marts_schema} of {warehouse}; nothing published")
            con.execute(f"attach {quote_literal(str(tmp))} as pub")
            try:
                for name in names:
                    con.execute(
                        f"create table pub.main.{quote_ident(name)} as select * from {quote_ident(marts_schema)}.{quote_ident(name)}"
                    )
                    tables[name] = con.execute(f"select count(*) from pub.main.{quote_ident(name)}").fetchone()[0]
                con.execute(
                    "create table pub.main._publication as "
                    "select ? as run_id, cast(? as timestamp) as published_at, 'pass' as rgpd_verdict",
                    [run_id, dt.datetime.now(dt.UTC).replace(tzinfo=None)],
                )
            finally:
                con.execute("detach pub")
        views = public_views.definitions(rgpd_audit.mart_classifications(manifest, marts_schema), names)
        with duckdb.connect(str(tmp)) as pub:  # views bind to the published file's own tables
            public_views.create(pub, views)
        os.chmod(tmp, 0o640)
        _fsync(tmp)
        os.replace(tmp, published)
        _fsync(published.parent)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    report = published.with_suffix(".publication.json")
    report.write_text(json.dumps({"run_id": run_id, "tables": tables}, indent=2), encoding="utf-8")
    log.info("published %d mart(s) to %s", len(tables), published)
    return PublishResult(published, tables)
