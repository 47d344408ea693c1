"""Backup and restore of the warehouse DuckDB file and the published folder (`make backup`, `make restore`).

A backup is a folder `zlv-backup-<UTC time>` under ZLV_BACKUP_DIR holding a byte copy of the
warehouse taken under the warehouse write lock right after a CHECKPOINT (so no writer runs and the
file is complete without its WAL), a copy of the published folder, and MANIFEST.json with the
SHA-256 of every file. It is written under a dot-name and renamed when complete: a folder that
looks like a backup is a whole one. The last ZLV_BACKUP_KEEP backups are kept.

A restore checks every checksum first and refuses, naming the file, if one differs; only then,
under the write lock, are verified copies staged beside the live files and renamed over them. The
warehouse it replaces is kept as `warehouse.duckdb.before-restore` until the next restore."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from zlv_dwh.settings import REPO_ROOT, Paths
from zlv_dwh.warehouse import connect, fsync, write_lock

log = logging.getLogger(__name__)

PREFIX = "zlv-backup-"
MANIFEST = "MANIFEST.json"
FORMAT_VERSION = 1
WAREHOUSE_NAME = "warehouse.duckdb"
PUBLISHED_NAME = "published"
CHUNK = 1 << 20


class BackupCorrupt(RuntimeError):
    """A backup whose files do not match its manifest: nothing was restored."""


@dataclass(frozen=True)
class BackupSettings:
    """Where backups go and how many are kept (ZLV_BACKUP_DIR, ZLV_BACKUP_KEEP)."""

    backup_dir: Path
    keep: int

    @classmethod
    def from_env(cls) -> BackupSettings:
        keep = int(os.environ.get("ZLV_BACKUP_KEEP", "7"))
        if keep < 1:
            raise ValueError(f"ZLV_BACKUP_KEEP must be at least 1, got {keep}")
        return cls(Path(os.environ.get("ZLV_BACKUP_DIR", REPO_ROOT / ".state" / "backups")).resolve(), keep)


def _copy_and_hash(source: Path, target: Path, mode: int) -> tuple[str, int]:
    """Copy source to a new file target with `mode`, fsync it; the SHA-256 and size of what was written."""
    digest, size = hashlib.sha256(), 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    os.chmod(target, mode)  # the umask may have narrowed it further than asked; keep exactly `mode`
    return digest.hexdigest(), size


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _private_mode(source_mode: int) -> int:
    """0640 when the source is group-readable, else 0600: never writable by the group, never readable by others."""
    return (source_mode & 0o640) | 0o600


def _published_files(published_dir: Path) -> Iterator[Path]:
    """Files of the published folder, leaving out the temporary ones a publication in progress writes
    (dot-names): the published file is renamed into place whole, so a copy sees one version.
    Top-level files first, so that the published file, not one of its snapshots, is the one copied."""
    if not published_dir.is_dir():
        return
    for path in sorted(published_dir.rglob("*"), key=lambda p: (len(p.parts), p)):
        relative = path.relative_to(published_dir)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        yield path


def list_backups(settings: BackupSettings) -> list[Path]:
    """Complete backups, oldest first (their names sort by time)."""
    if not settings.backup_dir.is_dir():
        return []
    return sorted(
        p for p in settings.backup_dir.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and (p / MANIFEST).is_file()
    )


def backup(paths: Paths, settings: BackupSettings, lock_timeout_s: float = 600.0) -> Path:
    """Copy the warehouse (consistent, under the write lock) and the published folder into a new
    backup folder with its checksums; prune old backups. Returns the new folder."""
    settings.backup_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.backup_dir, 0o700)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    final = settings.backup_dir / f"{PREFIX}{stamp}"
    staging = settings.backup_dir / f".{final.name}.partial"
    staging.mkdir(mode=0o700)
    entries: list[dict] = []
    try:
        if not paths.warehouse.exists():
            raise FileNotFoundError(f"no warehouse at {paths.warehouse}: nothing to back up")
        # The connection holds the write lock: no other writer until the copy is done. CHECKPOINT
        # moves the WAL into the file, so the file alone is the whole database.
        with connect(paths.warehouse, lock_timeout_s=lock_timeout_s) as con:
            con.execute("checkpoint")
            mode = _private_mode(paths.warehouse.stat().st_mode)
            sha, size = _copy_and_hash(paths.warehouse, staging / WAREHOUSE_NAME, mode)
            entries.append({"path": WAREHOUSE_NAME, "sha256": sha, "size": size, "mode": oct(mode)})
        entries.extend(_copy_published(paths.published_dir, staging / PUBLISHED_NAME))
        manifest = {
            "format": FORMAT_VERSION,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "warehouse": str(paths.warehouse),
            "published_dir": str(paths.published_dir),
            "files": entries,
        }
        manifest_path = staging / MANIFEST
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.chmod(manifest_path, 0o600)
        fsync(staging)
        os.replace(staging, final)
        fsync(settings.backup_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    prune(settings)
    log.info("backup %s: %d file(s), %d bytes", final, len(entries), sum(e["size"] for e in entries))
    return final


def _copy_published(published_dir: Path, target_dir: Path) -> list[dict]:
    """Copy the published folder; a file hard-linked to one already copied (the snapshots are hard
    links to a published file) is linked in the backup too, and recorded as `same_as`."""
    entries: list[dict] = []
    copied: dict[tuple[int, int], str] = {}
    for source in _published_files(published_dir):
        relative = f"{PUBLISHED_NAME}/{source.relative_to(published_dir).as_posix()}"
        target = target_dir.parent / relative
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            stat = source.stat()
            inode = (stat.st_dev, stat.st_ino)
            if inode in copied:
                first = next(e for e in entries if e["path"] == copied[inode])
                os.link(target_dir.parent / first["path"], target)
                entries.append({**first, "path": relative, "same_as": first["path"]})
                continue
            mode = _private_mode(stat.st_mode)
            sha, size = _copy_and_hash(source, target, mode)
        except FileNotFoundError:
            continue  # an old snapshot pruned by a publication meanwhile: it is not part of the state
        copied[inode] = relative
        entries.append({"path": relative, "sha256": sha, "size": size, "mode": oct(mode)})
    return entries


def prune(settings: BackupSettings) -> list[Path]:
    """Delete the oldest complete backups beyond `keep`, and leftovers of interrupted ones."""
    for leftover in settings.backup_dir.glob(f".{PREFIX}*.partial"):
        shutil.rmtree(leftover, ignore_errors=True)
    backups = list_backups(settings)
    removed = backups[: max(0, len(backups) - settings.keep)]
    for old in removed:
        shutil.rmtree(old)
    return removed


def verify(folder: Path) -> dict:
    """The backup's manifest if every file it lists is there with its size and SHA-256 and nothing
    else is; otherwise BackupCorrupt naming the first file that differs."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise BackupCorrupt(f"{folder}: no {MANIFEST}, not a complete backup")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        entries = manifest["files"]
    except (ValueError, KeyError) as exc:
        raise BackupCorrupt(f"{manifest_path}: unreadable manifest ({exc})") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupCorrupt(f"{manifest_path}: format {manifest.get('format')!r}, this code reads {FORMAT_VERSION}")
    listed = set()
    for entry in entries:
        path = (folder / entry["path"]).resolve()
        if folder.resolve() not in path.parents:
            raise BackupCorrupt(f"{manifest_path}: {entry['path']!r} points outside the backup")
        listed.add(path)
        if not path.is_file():
            raise BackupCorrupt(f"{folder}: {entry['path']} is missing")
        if path.stat().st_size != entry["size"]:
            raise BackupCorrupt(f"{folder}: {entry['path']} has {path.stat().st_size} bytes, the manifest says {entry['size']}")
        if _sha256(path) != entry["sha256"]:
            raise BackupCorrupt(f"{folder}: {entry['path']} does not match its SHA-256 in {MANIFEST}")
    if not any(e["path"] == WAREHOUSE_NAME for e in entries):
        raise BackupCorrupt(f"{manifest_path}: no {WAREHOUSE_NAME} listed")
    extra = sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p != manifest_path and p.resolve() not in listed
    )
    if extra:
        raise BackupCorrupt(f"{folder}: file(s) not in the manifest: {extra}")
    return manifest


def resolve_backup(settings: BackupSettings, name: str | None) -> Path:
    """A backup folder from a path, a folder name under the backup dir, or None / 'latest'."""
    if name in (None, "", "latest"):
        backups = list_backups(settings)
        if not backups:
            raise FileNotFoundError(f"no backup in {settings.backup_dir}")
        return backups[-1]
    candidate = Path(name)
    if not candidate.is_dir():
        candidate = settings.backup_dir / name
    if not candidate.is_dir():
        raise FileNotFoundError(f"no backup {name!r} (looked in {settings.backup_dir})")
    return candidate


def restore(folder: Path, paths: Paths, lock_timeout_s: float = 600.0) -> dict:
    """Verify the backup, then put its warehouse and published files in place under the write lock.

    Nothing live is touched until every checksum matched and every file is staged (and re-checked)
    on the target's filesystem; the live files are then replaced by renames."""
    manifest = verify(folder)
    entries = manifest["files"]
    warehouse = paths.warehouse
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with write_lock(warehouse, lock_timeout_s):
        staged: list[tuple[Path, Path]] = []  # (staged copy, live path)
        staged_by_entry: dict[str, Path] = {}
        try:
            for entry in entries:
                live = (
                    warehouse
                    if entry["path"] == WAREHOUSE_NAME
                    else paths.published_dir / Path(entry["path"]).relative_to(PUBLISHED_NAME)
                )
                live.parent.mkdir(parents=True, exist_ok=True)
                tmp = live.with_name(f".{live.name}.restore-{os.getpid()}")
                tmp.unlink(missing_ok=True)
                if entry.get("same_as") in staged_by_entry:  # a snapshot: a hard link again, not a second copy
                    os.link(staged_by_entry[entry["same_as"]], tmp)
                    staged.append((tmp, live))
                    continue
                sha, _ = _copy_and_hash(folder / entry["path"], tmp, int(entry["mode"], 8))
                staged.append((tmp, live))
                staged_by_entry[entry["path"]] = tmp
                if sha != entry["sha256"]:  # the copy itself went wrong (disk full, bad sector)
                    raise BackupCorrupt(f"{folder}: the copy of {entry['path']} differs from its SHA-256; nothing restored")
            _swap_in(staged, warehouse)
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
    log.info("restored %s: %d file(s)", folder, len(entries))
    return manifest


def _swap_in(staged: list[tuple[Path, Path]], warehouse: Path) -> None:
    """Rename the staged files over the live ones; the live warehouse (and a WAL it may have, which
    must not be replayed onto the restored file) is kept aside as `.before-restore`."""
    wal = Path(f"{warehouse}.wal")
    kept_aside = []
    for live in (warehouse, wal):
        if live.exists():
            aside = live.with_name(f"{live.name}.before-restore")
            os.replace(live, aside)
            kept_aside.append((aside, live))
    try:
        for tmp, live in staged:
            if live == warehouse:
                os.replace(tmp, live)
    except BaseException:
        for aside, live in kept_aside:
            os.replace(aside, live)
        raise
    for tmp, live in staged:  # published files: each rename is atomic for a reader such as Metabase
        if live != warehouse:
            os.replace(tmp, live)
    for directory in {live.parent for _, live in staged}:
        fsync(directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Back up or restore the ZLV warehouse and published folder.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("backup", help="take a backup now, then keep the last ZLV_BACKUP_KEEP")
    restore_parser = sub.add_parser("restore", help="verify a backup, then restore it")
    restore_parser.add_argument("backup", nargs="?", default="latest", help="backup folder or name (default: the latest)")
    sub.add_parser("list", help="list the backups, oldest first")
    sub.add_parser("verify", help="check every backup's checksums").add_argument("backup", nargs="?", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    paths, settings = Paths.from_env(), BackupSettings.from_env()
    try:
        if args.command == "backup":
            print(backup(paths, settings))
        elif args.command == "restore":
            folder = resolve_backup(settings, args.backup)
            restore(folder, paths)
            print(f"restored {folder} into {paths.warehouse} and {paths.published_dir}")
        elif args.command == "list":
            for folder in list_backups(settings):
                print(folder)
        else:
            for folder in [resolve_backup(settings, args.backup)] if args.backup else list_backups(settings):
                verify(folder)
                print(f"ok {folder}")
    except (BackupCorrupt, FileNotFoundError) as exc:
        print(f"{args.command} refused: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
