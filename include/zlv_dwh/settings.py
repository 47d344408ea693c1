"""Where things live. Every path can be moved with an environment variable, so the same code runs
in the demo, the tests and a container."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = REPO_ROOT / "include"
CONFIG_DIR = Path(os.environ.get("ZLV_CONFIG_DIR", INCLUDE_DIR / "config"))
DBT_PROJECT_DIR = Path(os.environ.get("ZLV_DBT_PROJECT_DIR", INCLUDE_DIR / "dbt"))
# Built ahead by `make manifest` (dbt parse): Cosmos renders from it, the RGPD audit reads it.
DBT_MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"

# The Airflow pool every DuckDB writer runs in: DuckDB allows one writing process per file.
DUCKDB_POOL = "duckdb_writer"


@dataclass(frozen=True)
class Paths:
    """The warehouse's files, derived from one data folder (ZLV_DATA_DIR)."""

    data_dir: Path

    @classmethod
    def from_env(cls) -> Paths:
        return cls(Path(os.environ.get("ZLV_DATA_DIR", REPO_ROOT / ".state" / "data")).resolve())

    @property
    def warehouse(self) -> Path:
        return Path(os.environ.get("ZLV_WAREHOUSE_PATH", self.data_dir / "warehouse.duckdb"))

    @property
    def published_dir(self) -> Path:
        return self.data_dir / "published"

    @property
    def published_marts(self) -> Path:
        return self.published_dir / "zlv_marts.duckdb"

    @property
    def dbt_docs_dir(self) -> Path:
        """The dbt documentation site (static_index.html opens alone; Cosmos serves index.html)."""
        return self.data_dir / "dbt_docs"

    @property
    def dbt_freshness_dir(self) -> Path:
        return self.data_dir / "dbt_freshness"

    @property
    def extension_dir(self) -> Path:
        return self.data_dir / "duckdb_extensions"
