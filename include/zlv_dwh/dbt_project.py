"""The dbt manifest the DAGs render from, and the proof that it matches the project.

Cosmos renders the transform DAG from `target/manifest.json` so that the scheduler never runs dbt
while parsing. A manifest older than the models would silently schedule yesterday's project, so the
manifest is built together with a fingerprint of every file dbt reads (`build`), and the DAG refuses
to render when the project no longer matches it (`check`): the import error in the Airflow UI says
to run `make manifest`.

    python -m zlv_dwh.dbt_project build    # what `make manifest`, the demo and the tests run
    python -m zlv_dwh.dbt_project check
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from zlv_dwh.settings import DBT_MANIFEST, DBT_PROJECT_DIR

# What `dbt parse` reads: a change in any of them can change the manifest.
PROJECT_FOLDERS = ("models", "macros", "seeds", "tests", "snapshots", "analyses")
PROJECT_FILES = ("dbt_project.yml", "packages.yml", "dependencies.yml", "selectors.yml")


class StaleManifestError(RuntimeError):
    """The manifest is missing or was built from other project files."""


def fingerprint_path(manifest: Path = DBT_MANIFEST) -> Path:
    return manifest.with_name("zlv_project_fingerprint.txt")


def project_fingerprint(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """SHA-256 of the paths and contents of the files dbt parses (a few dozen small files: ~ms)."""
    digest = hashlib.sha256()
    files = [project_dir / name for name in PROJECT_FILES if (project_dir / name).is_file()]
    for folder in PROJECT_FOLDERS:
        if (project_dir / folder).is_dir():
            files += [p for p in (project_dir / folder).rglob("*") if p.is_file()]
    for path in sorted(files):
        digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def check(project_dir: Path = DBT_PROJECT_DIR, manifest: Path = DBT_MANIFEST) -> None:
    """Raise unless the manifest exists and was built from the project files as they are now."""
    if not manifest.exists():
        raise StaleManifestError(f"{manifest} is missing: build it with `make manifest`")
    recorded = fingerprint_path(manifest)
    if not recorded.exists() or recorded.read_text().strip() != project_fingerprint(project_dir):
        raise StaleManifestError(
            f"{manifest} is stale: the dbt project in {project_dir} changed since it was built. "
            "Rebuild it with `make manifest` (dbt parse) before the DAGs can render the new models."
        )


def build(project_dir: Path = DBT_PROJECT_DIR, env: dict | None = None, quiet: bool = True) -> Path:
    """`dbt parse` into target/, then record the fingerprint of the files it parsed."""
    fingerprint = project_fingerprint(project_dir)  # before parsing: a file edited meanwhile shows as stale
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DBT_VERSION_CHECK": "False", **(env or {})}
    env.setdefault("ZLV_WAREHOUSE_PATH", str(project_dir / "target" / "parse_only.duckdb"))  # parse opens no database
    dbt = Path(sys.executable).with_name("dbt")
    command = [
        str(dbt),
        "parse",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        "target",
    ]
    subprocess.run(command + (["--quiet"] if quiet else []), env=env, check=True)
    manifest = project_dir / "target" / "manifest.json"
    fingerprint_path(manifest).write_text(fingerprint + "\n")
    return manifest


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else "check"
    if action == "build":
        print(build())
    elif action == "check":
        try:
            check()
        except StaleManifestError as exc:
            sys.exit(str(exc))
        print(f"{DBT_MANIFEST} matches the project")
    else:
        sys.exit("usage: python -m zlv_dwh.dbt_project [build|check]")
