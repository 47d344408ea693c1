"""The one publish step: copy the audited marts into the file Metabase reads, atomically.

The new file is written beside the old one under a temporary name, flushed to disk, then renamed
over it: a reader opens either the previous complete file or the new complete one, never a half
written file, and the pipeline never waits for readers. Publishing requires a passing RGPD audit
and a passed (or approved) indicator drift gate of the same run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from zlv_dwh import indicator_drift, pii, public_views, rgpd_audit
from zlv_dwh.warehouse import connect, fsync, quote_ident, quote_literal

log = logging.getLogger(__name__)

# Readers from DuckDB 1.1 on open the published file (the DuckDB driver for Metabase embeds DuckDB's
# JDBC driver, which lags behind the Python release); ZLV_PUBLISHED_STORAGE_VERSION changes it.
STORAGE_VERSION = os.environ.get("ZLV_PUBLISHED_STORAGE_VERSION", "v1.1.0")
KEEP_SNAPSHOTS = int(os.environ.get("ZLV_PUBLISHED_SNAPSHOTS", "7"))


class PublishRefused(RuntimeError):
    """Nothing was published; the previous file is untouched."""


@dataclass
class PublishResult:
    path: Path
    tables: dict[str, int]


def publish(warehouse: Path, published: Path, run_id: str, manifest: Path, marts_schema: str = "marts") -> PublishResult:
    """Publish the marts of `run_id` to `published` if, and only if, its RGPD audit and indicator
    drift gate passed: the marts as tables, and the `public` views (public columns, small cells
    suppressed) built from the classes in dbt's manifest."""
    published = Path(published)
    published.parent.mkdir(parents=True, exist_ok=True)
    tmp = published.with_name(f".{published.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    exports_tmp = published.parent / "exports" / f".{os.getpid()}.tmp"
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
            # An older storage format, so that the DuckDB inside Metabase's driver can open the file.
            con.execute(f"attach {quote_literal(str(tmp))} as pub (storage_version {quote_literal(STORAGE_VERSION)})")
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
            with duckdb.connect(str(tmp), read_only=True) as check:  # what a reader will open
                found = {n: check.execute(f"select count(*) from main.{quote_ident(n)}").fetchone()[0] for n in names}
                if found != tables:
                    raise PublishRefused(
                        f"the new file does not hold the warehouse's rows ({found} != {tables}); nothing published"
                    )
                export_manifest = export_public(check, [v.name for v in views], exports_tmp, run_id)
            os.chmod(tmp, 0o640)
            fsync(tmp)
            os.replace(tmp, published)
            fsync(published.parent)
            # Still under the warehouse lock: a backup never sees half of a publication.
            exports = _place_exports(exports_tmp, published.parent / "exports", run_id)
            snapshot = _keep_snapshot(published, run_id)
            report = published.with_suffix(".publication.json")
            report.write_text(
                json.dumps({"run_id": run_id, "tables": tables, "snapshot": snapshot.name, "exports": export_manifest}, indent=2),
                encoding="utf-8",
            )
    except BaseException:
        shutil.rmtree(exports_tmp, ignore_errors=True)
        raise
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    log.info("published %d mart(s) to %s (snapshot %s, exports %s)", len(tables), published, snapshot.name, exports)
    return PublishResult(published, tables)


def _safe(run_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in run_id)[:60]


def _stamp(run_id: str) -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}_{_safe(run_id)}"


def _of_run(name: str, run_id: str) -> bool:
    """Whether a snapshot (`<file>.<stamp>_<run>.duckdb`) or an export folder (`<stamp>_<run>`)
    belongs to `run_id`; the stamp is `YYYYmmddTHHMMSSZ`."""
    if name.endswith(".duckdb"):
        name = name[: -len(".duckdb")].rsplit(".", 1)[-1]
    return len(name) > 17 and name[16] == "_" and name[17:] == _safe(run_id)


def export_public(con, views: list[str], folder: Path, run_id: str) -> dict:
    """The public views as Parquet and CSV (UTF-8, `;`) for partners, with a manifest of files, rows
    and SHA-256 checksums; written into `folder` (a temporary one, placed after the publication)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    schema = quote_ident(pii.load_policy().public_views["schema"])
    files = []
    for view in views:
        relation = f"{schema}.{quote_ident(view)}"
        rows = con.execute(f"select count(*) from {relation}").fetchone()[0]
        for suffix, options in (("parquet", "format parquet"), ("csv", "format csv, header true, delimiter ';'")):
            path = folder / f"{view}.{suffix}"
            con.execute(f"copy (select * from {relation}) to {quote_literal(str(path))} ({options})")
            files.append({"file": path.name, "view": view, "rows": rows, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    manifest = {"run_id": run_id, "encoding": "utf-8", "csv_delimiter": ";", "files": files}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def _place_exports(tmp: Path, parent: Path, run_id: str) -> Path | None:
    if not tmp.exists():
        return None
    target = parent / _stamp(run_id)
    os.replace(tmp, target)
    _prune(sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")))
    return target


def _keep_snapshot(published: Path, run_id: str) -> Path:
    """A hard link to the file just published: no copy, and the next publish (a rename over the
    name) leaves this inode to the snapshot. The last KEEP_SNAPSHOTS are kept."""
    folder = published.parent / "snapshots"
    folder.mkdir(exist_ok=True)
    snapshot = folder / f"{published.stem}.{_stamp(run_id)}{published.suffix}"
    os.link(published, snapshot)
    _prune(sorted(folder.glob(f"{published.stem}.*{published.suffix}")))
    return snapshot


def _prune(oldest_first: list[Path]) -> None:
    for old in oldest_first[: max(0, len(oldest_first) - KEEP_SNAPSHOTS)]:
        shutil.rmtree(old) if old.is_dir() else old.unlink()


PURGES_DDL = """
create schema if not exists ops;
create table if not exists ops.publication_purges (
    purged_run_id varchar,
    purged_at timestamp,
    reason varchar,
    removed varchar,
    republished_run_id varchar
)"""


@dataclass
class PurgeResult:
    purged_run_id: str
    removed: list[str]
    republished_run_id: str | None  # the run now in the published file, None when none is left


def _run_of(path: Path) -> str | None:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select run_id from _publication").fetchone()[0]


def purge(warehouse: Path, published: Path, run_id: str, reason: str) -> PurgeResult:
    """Remove a publication found to leak after it passed: its snapshot and partner exports go, and
    if it is the file Metabase reads, the last good snapshot before it is put back in its place
    (atomically, exports regenerated) or, with none left, the published file is removed. Recorded
    in ops.publication_purges (what was removed, what is published now), never the values."""
    published = Path(published)
    snapshots = published.parent / "snapshots"
    exports = published.parent / "exports"
    with connect(warehouse) as con:  # the writer lock: no publication runs meanwhile
        current = _run_of(published) if published.exists() else None
        doomed = [p for p in sorted(snapshots.glob(f"{published.stem}.*{published.suffix}")) if _of_run(p.name, run_id)]
        doomed += [p for p in sorted(exports.iterdir()) if p.is_dir() and _of_run(p.name, run_id)] if exports.exists() else []
        if current != run_id and not doomed:
            raise PublishRefused(
                f"run {run_id}: no publication of it in {published.parent} (published now: {current or 'nothing'}); nothing purged"
            )
        for path in doomed:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        republished = current
        if current == run_id:
            good = sorted(snapshots.glob(f"{published.stem}.*{published.suffix}")) if snapshots.exists() else []
            if good:
                tmp = published.with_name(f".{published.name}.{os.getpid()}.purge.tmp")
                shutil.copyfile(good[-1], tmp)
                os.chmod(tmp, 0o640)
                fsync(tmp)
                os.replace(tmp, published)
                fsync(published.parent)
                republished = _run_of(published)
                if not any(p.is_dir() and _of_run(p.name, republished) for p in (exports.iterdir() if exports.exists() else [])):
                    with duckdb.connect(str(published), read_only=True) as check:
                        schema = pii.load_policy().public_views["schema"]
                        views = [
                            r[0]
                            for r in check.execute(
                                "select view_name from duckdb_views() where schema_name = ?", [schema]
                            ).fetchall()
                        ]
                        tmp_exports = exports / f".{os.getpid()}.tmp"
                        export_public(check, sorted(views), tmp_exports, republished)
                    _place_exports(tmp_exports, exports, republished)
            else:
                published.unlink()
                republished = None
            published.with_suffix(".publication.json").write_text(
                json.dumps({"run_id": republished, "purged": run_id, "reason": reason}, indent=2), encoding="utf-8"
            )
        removed = [str(p.relative_to(published.parent)) for p in doomed] + ([published.name] if current == run_id else [])
        con.execute(PURGES_DDL)
        con.execute(
            "insert into ops.publication_purges values (?, ?, ?, ?, ?)",
            [run_id, dt.datetime.now(dt.UTC).replace(tzinfo=None), reason, json.dumps(removed), republished],
        )
    log.info("purged publication %s (%s): removed %s; published now: %s", run_id, reason, removed, republished or "nothing")
    return PurgeResult(run_id, removed, republished)


def main(argv: list[str] | None = None) -> int:
    """`python -m zlv_dwh.publish purge RUN_ID [--reason ...]` (make purge-published RUN=...)."""
    import argparse

    from zlv_dwh.settings import Paths

    parser = argparse.ArgumentParser(prog="python -m zlv_dwh.publish")
    sub = parser.add_subparsers(dest="command", required=True)
    purge_cmd = sub.add_parser("purge", help="remove a publication and put back the last good one")
    purge_cmd.add_argument("run_id")
    purge_cmd.add_argument("--reason", default="personal data found after publication")
    args = parser.parse_args(argv)
    paths = Paths.from_env()
    try:
        result = purge(paths.warehouse, paths.published_marts, args.run_id, args.reason)
    except PublishRefused as exc:
        print(exc)
        return 1
    print(f"purged {result.purged_run_id}: removed {', '.join(result.removed) or 'nothing'}")
    print(f"published now: {result.republished_run_id or 'nothing (no earlier good publication)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
