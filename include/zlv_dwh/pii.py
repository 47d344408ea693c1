"""The one PII policy: what is personal data, and the keyed hash that pseudonymises it.

The hash is HMAC-SHA256 computed inside DuckDB (vectorised, no per-row Python), so ingestion of
millions of rows stays fast; `hmac_sha256_hex` is the Python twin used to check and to match."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from zlv_dwh.settings import CONFIG_DIR


class MissingPseudonymisationKey(RuntimeError):
    """No key to pseudonymise with: refusing to copy personal columns in clear."""


@dataclass(frozen=True)
class PiiPolicy:
    classes: tuple[str, ...]
    allowed_in_marts: frozenset[str]
    personal_name_patterns: tuple[re.Pattern, ...]
    key_env: str
    key_airflow_variable: str
    content_scan: dict
    public_views: dict

    def looks_personal(self, column: str) -> str | None:
        """The pattern a column name matches, if it names personal data."""
        for pattern in self.personal_name_patterns:
            if pattern.search(column.lower()):
                return pattern.pattern
        return None


@lru_cache(maxsize=4)
def load_policy(path: Path | None = None) -> PiiPolicy:
    raw = yaml.safe_load(Path(path or CONFIG_DIR / "pii.yml").read_text(encoding="utf-8"))
    return PiiPolicy(
        classes=tuple(raw["classes"]),
        allowed_in_marts=frozenset(raw["allowed_in_marts"]),
        personal_name_patterns=tuple(re.compile(p) for p in raw["personal_name_patterns"]),
        key_env=raw["key"]["env"],
        key_airflow_variable=raw["key"]["airflow_variable"],
        content_scan=raw.get("content_scan") or {},
        public_views=raw.get("public_views") or {"schema": "public", "small_cells": {"threshold": 5, "marts": {}}},
    )


def key_from_env(policy: PiiPolicy | None = None) -> bytes | None:
    value = os.environ.get((policy or load_policy()).key_env)
    return value.encode("utf-8") if value else None


def require_key(key: bytes | None) -> bytes:
    if not key:
        policy = load_policy()
        raise MissingPseudonymisationKey(
            f"no pseudonymisation key: set the environment variable {policy.key_env} "
            f"or the Airflow variable {policy.key_airflow_variable}"
        )
    return key


def hmac_sha256_hex(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def install_key(con, key: bytes) -> None:
    """Bind the key's HMAC pads to the connection as session variables, as query parameters:
    the key never appears in SQL text, so no error message or query log can echo it."""
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    con.execute("set variable zlv_hmac_ipad = ?", [bytes(b ^ 0x36 for b in block)])
    con.execute("set variable zlv_hmac_opad = ?", [bytes(b ^ 0x5C for b in block)])


def hmac_sql(expression: str) -> str:
    """DuckDB SQL computing HMAC-SHA256(key, expression::VARCHAR) as lowercase hex, NULL-preserving.

    HMAC = H((K ^ opad) || H((K ^ ipad) || m)); the padded keys are bound by `install_key`, so each
    value costs two sha256 calls inside DuckDB, vectorised."""
    value = f"encode(CAST({expression} AS VARCHAR))"
    return (
        f"CASE WHEN {expression} IS NULL THEN NULL ELSE "
        f"sha256(getvariable('zlv_hmac_opad') || unhex(sha256(getvariable('zlv_hmac_ipad') || {value}))) END"
    )
