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

# Where the warehouse is stored (ZLV_WAREHOUSE_BACKEND): one DuckDB file (one writer, one machine),
# or DuckLake (catalog in PostgreSQL, Parquet on S3; several writers). docs/DUCKLAKE.md says when.
BACKENDS = ("duckdb", "ducklake")
# The name the DuckLake catalog is attached under: current_database() and dbt's `database` on that
# backend (profiles.yml's ducklake target uses the same name).
DUCKLAKE_ALIAS = "warehouse"


def warehouse_backend() -> str:
    """The storage backend the environment selects; the DuckDB file unless told otherwise."""
    backend = os.environ.get("ZLV_WAREHOUSE_BACKEND", "duckdb").strip().lower() or "duckdb"
    if backend not in BACKENDS:
        raise ValueError(f"ZLV_WAREHOUSE_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend


@dataclass(frozen=True)
class S3Settings:
    """How to reach the object store; built from the Airflow connection (or the environment for
    the DuckLake data path), never logged."""

    endpoint_url: str | None
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"
    session_token: str | None = None  # temporary credentials (assumed role, SSO) from the provider's hook

    def __repr__(self) -> str:  # keep keys out of logs and tracebacks
        return f"S3Settings(endpoint_url={self.endpoint_url!r}, region={self.region!r})"


@dataclass(frozen=True)
class LakeSettings:
    """The DuckLake backend: a PostgreSQL catalog (a libpq connection string, secret) and a data
    path (s3://bucket/prefix/, or a local folder) where the Parquet files go."""

    catalog: str
    data_path: str
    s3: S3Settings | None

    def __repr__(self) -> str:  # the catalog string may hold a password
        return f"LakeSettings(data_path={self.data_path!r}, s3={self.s3!r})"

    @classmethod
    def from_env(cls) -> LakeSettings:
        """ZLV_DUCKLAKE_CATALOG, ZLV_DUCKLAKE_DATA_PATH and, for an s3:// data path,
        ZLV_DUCKLAKE_S3_ENDPOINT_URL / _ACCESS_KEY_ID / _SECRET_ACCESS_KEY / _REGION (the same
        values as the file ingestion's S3 connection when the lake shares its object store)."""
        missing = [n for n in ("ZLV_DUCKLAKE_CATALOG", "ZLV_DUCKLAKE_DATA_PATH") if not os.environ.get(n)]
        data_path = os.environ.get("ZLV_DUCKLAKE_DATA_PATH", "")
        s3 = None
        if data_path.startswith("s3://"):
            names = ("ZLV_DUCKLAKE_S3_ENDPOINT_URL", "ZLV_DUCKLAKE_S3_ACCESS_KEY_ID", "ZLV_DUCKLAKE_S3_SECRET_ACCESS_KEY")
            missing += [n for n in names if not os.environ.get(n)]
            if not missing:
                s3 = S3Settings(*(os.environ[n] for n in names), os.environ.get("ZLV_DUCKLAKE_S3_REGION", "us-east-1"))
        if missing:
            raise ValueError(f"ZLV_WAREHOUSE_BACKEND=ducklake needs {', '.join(missing)} in the environment")
        if not data_path.endswith("/"):  # DuckLake keeps the path it was created with, as written
            raise ValueError(f"ZLV_DUCKLAKE_DATA_PATH must end with '/', got {data_path!r}")
        return cls(os.environ["ZLV_DUCKLAKE_CATALOG"], data_path, s3)


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
    def download_cache(self) -> Path:
        """Pinned downloads (the referential's source), checked by hash before use: safe to share
        between data folders (ZLV_DOWNLOAD_CACHE), which the tests do."""
        return Path(os.environ.get("ZLV_DOWNLOAD_CACHE", self.data_dir / "cache"))

    @property
    def extension_dir(self) -> Path:
        return self.data_dir / "duckdb_extensions"

    def dbt_env(self) -> dict[str, str]:
        """What profiles.yml reads besides the backend settings: the warehouse file (duckdb target)
        and the extension folder (ducklake target)."""
        return {"ZLV_WAREHOUSE_PATH": str(self.warehouse), "ZLV_DUCKDB_EXTENSION_DIR": str(self.extension_dir)}
