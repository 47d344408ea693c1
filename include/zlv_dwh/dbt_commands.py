"""dbt commands the pipeline runs besides the models: source freshness and the documentation site.

Both run dbt in-process (dbtRunner) against the warehouse, under the same file lock as every other
writer (none on DuckLake), with their artifacts in a folder of their own so they never touch the manifest the DAGs
render from."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from zlv_dwh.settings import DBT_PROJECT_DIR, Paths
from zlv_dwh.warehouse import install_extensions, writer_lock

log = logging.getLogger(__name__)


class DbtCommandError(RuntimeError):
    """dbt could not run the command (not: a source is stale, see FreshnessReport)."""


def _invoke(args: list[str], warehouse: Path, target_path: Path, project_dir: Path):
    from dbt.cli.main import dbtRunner  # heavy import, only when a task runs

    paths = Paths.from_env()
    os.environ.update({**paths.dbt_env(), "ZLV_WAREHOUSE_PATH": str(warehouse)})
    install_extensions(paths.extension_dir)  # the ducklake target loads them from there
    target_path.mkdir(parents=True, exist_ok=True)
    common = ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir), "--target-path", str(target_path)]
    with writer_lock(warehouse):
        result = dbtRunner().invoke([*args, *common])
    if result.exception is not None:
        raise DbtCommandError(f"dbt {' '.join(args)}: {result.exception}") from None
    return result


@dataclass
class FreshnessReport:
    sources: list[dict]  # source, table, status (pass | warn | error | runtime error), max_loaded_at, age_hours

    def by_status(self, status: str) -> list[dict]:
        return [s for s in self.sources if s["status"] == status]

    def summary(self) -> str:
        counts = ", ".join(f"{len(self.by_status(s))} {s}" for s in ("pass", "warn", "error"))
        stale = [
            f"{s['source']}.{s['table']} ({s['status']}, {s['age_hours']:.0f} h)" for s in self.sources if s["status"] != "pass"
        ]
        return f"source freshness: {counts}" + (f"; stale: {', '.join(stale)}" if stale else "")


def source_freshness(warehouse: Path, out_dir: Path, project_dir: Path = DBT_PROJECT_DIR) -> FreshnessReport:
    """`dbt source freshness`: how stale each raw table is against its declared thresholds."""
    _invoke(["source", "freshness", "--output", str(out_dir / "sources.json")], warehouse, out_dir, project_dir)
    results = json.loads((out_dir / "sources.json").read_text())["results"]
    sources = []
    for r in results:
        _, _, source, table = r["unique_id"].split(".", 3)
        sources.append(
            {
                "source": source,
                "table": table,
                "status": r["status"],
                "max_loaded_at": r.get("max_loaded_at"),
                "age_hours": (r.get("max_loaded_at_time_ago_in_s") or 0) / 3600,
            }
        )
    report = FreshnessReport(sorted(sources, key=lambda s: (s["source"], s["table"])))
    log.info("%s", report.summary())
    return report


def generate_docs(warehouse: Path, out_dir: Path, project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """`dbt docs generate --static`: index.html + manifest/catalog, and one self-contained
    static_index.html that opens from the file system."""
    _invoke(["docs", "generate", "--static"], warehouse, out_dir, project_dir)
    page = out_dir / "static_index.html"
    log.info("dbt docs written to %s", page)
    return page


def seed_referentials(warehouse: Path, out_dir: Path, project_dir: Path = DBT_PROJECT_DIR) -> list[str]:
    """`dbt seed` of the reference tables shipped with the project (the app's status vocabulary);
    returns the seeds loaded. Full refresh: a changed seed file replaces its table whole."""
    result = _invoke(["seed", "--full-refresh"], warehouse, out_dir, project_dir)
    seeds = [r.node.name for r in result.result.results]
    log.info("referentials loaded: %s", ", ".join(seeds))
    return seeds


def build_all(warehouse: Path, out_dir: Path, project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """`dbt build` (seeds, models, tests) in one call, for running the pipeline without Airflow;
    returns the manifest it wrote (the RGPD audit and the publish step read the classes there)."""
    _invoke(["build"], warehouse, out_dir, project_dir)
    return out_dir / "manifest.json"
