"""Apply airflow_settings.yaml (Astro CLI format) to a plain Airflow installation, idempotently.

Pools and variables are imported with Airflow's own CLI (`pools import`, `variables import`, both
upserts). Values written `${NAME}` come from the environment; a variable whose environment value is
missing is skipped and reported, never written empty. Connections are expected from the environment
(AIRFLOW_CONN_*) or a secrets backend, so no secret lives in the file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def read(path: Path) -> dict:
    return (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("airflow", {}) or {}


def pools(settings: dict) -> dict:
    return {
        p["pool_name"]: {"slots": int(p["pool_slot"]), "description": p.get("pool_description", ""), "include_deferred": False}
        for p in settings.get("pools") or []
    }


def variables(settings: dict) -> tuple[dict, list[str]]:
    values, skipped = {}, []
    for v in settings.get("variables") or []:
        value = str(v.get("variable_value", ""))
        ref = _ENV_REF.match(value)
        if ref:
            if ref.group(1) not in os.environ:
                skipped.append(f"{v['variable_name']} (set {ref.group(1)})")
                continue
            value = os.environ[ref.group(1)]
        values[v["variable_name"]] = value
    return values, skipped


def apply(path: Path, airflow: str = "airflow") -> None:
    settings = read(path)
    with tempfile.TemporaryDirectory() as tmp:
        pools_file = Path(tmp) / "pools.json"
        pools_file.write_text(json.dumps(pools(settings)))
        subprocess.run([airflow, "pools", "import", str(pools_file)], check=True, stdout=subprocess.DEVNULL)
        declared = [f"{name} ({spec['slots']} slot)" for name, spec in pools(settings).items()]
        print(f"pools: {', '.join(declared)}")
        values, skipped = variables(settings)
        if values:
            variables_file = Path(tmp) / "variables.json"
            variables_file.write_text(json.dumps(values))
            os.chmod(variables_file, 0o600)
            subprocess.run([airflow, "variables", "import", str(variables_file)], check=True, stdout=subprocess.DEVNULL)
        print(f"variables: {', '.join(values) or 'none'}" + (f"; skipped: {', '.join(skipped)}" if skipped else ""))


if __name__ == "__main__":
    apply(
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path("airflow_settings.yaml"),
        airflow=str(Path(sys.executable).with_name("airflow")),
    )
