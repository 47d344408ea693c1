"""The fault suite's ledger: what each fault test injected, whether it survived, and what it cost.

A fault test asks for the `fault` fixture (tests/conftest.py), calls `fault.inject(name)` for each
fault it causes, adds what it measured (`rows_lost`, `partial_tables_seen`) and names the files and
texts a secret must never reach (`watch`, `watch_text`). The faults survive only if the test passes;
the texts and files are grepped for the test secrets when the test ends. At the end of the session
one line gives the totals and the session fails when the invariant is broken. A session that
collects the fault suite answers for every fault of faults/registry.py: one not injected
(skipped, deselected, not reached) counts as not survived; run a subset on purpose with
ZLV_FAULTS_REQUIRED=0 (as `make test-fast` does) to have them reported only."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from conftest import TEST_HASH_KEY
from zlv_dwh.demo import services

# Distinctive, so a leak is easy to find; used by the faults suite as the production login's password.
TEST_PG_PASSWORD = "zlv-fault-pg-password-4e1b"


def secrets() -> dict[str, str]:
    """Every secret the suite hands to the product (the S3 access key id is an identifier, not a secret)."""
    return {
        "pseudonymisation key": TEST_HASH_KEY.decode(),
        "S3 secret key": services.s3_credentials()[1],
        "PostgreSQL password": TEST_PG_PASSWORD,
    }


@dataclass
class Fault:
    """What one test injected and measured."""

    test: str
    injected: list[str] = field(default_factory=list)
    survived: int = 0
    rows_lost: int = 0
    partial_tables_seen: int = 0
    secrets_leaked: int = 0
    leaks: list[str] = field(default_factory=list)
    watched: list[Path] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def inject(self, name: str) -> None:
        self.injected.append(name)

    def watch(self, *paths: Path) -> None:
        """Files (or folders) that must not hold a secret when the test ends."""
        self.watched.extend(Path(p) for p in paths)

    def watch_text(self, *texts: str) -> None:
        """Texts a support person would read: error messages, child-process output, emails."""
        self.texts.extend(str(t) for t in texts)

    def scan(self, log_text: str) -> list[str]:
        """Grep the task log, the texts and the watched files; returns where each secret was found."""
        found = []
        sources = [("task log", log_text)] + [(f"text {i}", t) for i, t in enumerate(self.texts)]
        for label, text in sources:
            found += [f"{name} in {label}" for name, value in secrets().items() if value in text]
        for path in self.watched:
            for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
                if file.is_file():
                    found += scan_file(file)
        self.leaks = found
        self.secrets_leaked = len(found)
        return found


def scan_file(path: Path) -> list[str]:
    """A secret in the raw bytes, or (DuckDB compresses strings on disk) in any text column."""
    data = path.read_bytes()
    found = [f"{name} in the bytes of {path}" for name, value in secrets().items() if value.encode() in data]
    if data[8:12] == b"DUCK":
        found += scan_duckdb(path)
    return found


def scan_duckdb(path: Path) -> list[str]:
    found = []
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() and data_type = 'VARCHAR'"
        ).fetchall()
        for schema, table, column in columns:
            for name, value in secrets().items():
                hits = con.execute(
                    f'select count(*) from "{schema}"."{table}" where contains("{column}", ?)', [value]
                ).fetchone()[0]
                if hits:
                    found.append(f"{name} in {path}: {schema}.{table}.{column} ({hits} row(s))")
    return found


class LogCapture(logging.Handler):
    """The records a task log would hold: INFO and above, and the product's own DEBUG lines."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.buffer = io.StringIO()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.INFO or record.name.startswith("zlv_dwh"):
            self.buffer.write(self.format(record) + "\n")


@dataclass
class Ledger:
    """The faults recorded in a session, read against the registry (faults/registry.py): a
    registered fault not injected counts as expected and not survived (unless `require_all` is
    off, for a deliberate subset such as `make test-fast`, which then only reports them)."""

    faults: list[Fault] = field(default_factory=list)
    registered: tuple = ()
    require_all: bool = True

    def _injected_names(self) -> set[str]:
        return {name for f in self.faults for name in f.injected}

    def not_run(self) -> list:
        injected = self._injected_names()
        return [r for r in self.registered if r.name not in injected]

    def unregistered(self) -> list[str]:
        known = {r.name for r in self.registered}
        return sorted(self._injected_names() - known) if self.registered else []

    def totals(self) -> dict[str, int]:
        missing = len(self.not_run()) if self.require_all else 0
        return {
            "injected": sum(len(f.injected) for f in self.faults) + missing,
            "survived": sum(f.survived for f in self.faults),
            "not_run": len(self.not_run()),
            "rows_lost": sum(f.rows_lost for f in self.faults),
            "partial_tables_seen": sum(f.partial_tables_seen for f in self.faults),
            "secrets_leaked": sum(f.secrets_leaked for f in self.faults),
        }

    def holds(self) -> bool:
        t = self.totals()
        return (
            t["injected"] == t["survived"]
            and not (t["rows_lost"] or t["partial_tables_seen"] or t["secrets_leaked"])
            and not self.unregistered()
        )

    def line(self) -> str:
        return "faults: " + " ".join(f"{k}={v}" for k, v in self.totals().items())

    def problems(self) -> list[str]:
        lines = [
            f"{r.test}: registered fault not run ({r.name}){'' if self.require_all else ' (subset run: reported only)'}"
            for r in self.not_run()
        ]
        lines += [f"fault injected but not in faults/registry.py: {name}" for name in self.unregistered()]
        for f in self.faults:
            if f.survived != len(f.injected):
                lines.append(f"{f.test}: {len(f.injected) - f.survived} fault(s) not survived ({', '.join(f.injected)})")
            if f.rows_lost:
                lines.append(f"{f.test}: {f.rows_lost} row(s) lost")
            if f.partial_tables_seen:
                lines.append(f"{f.test}: {f.partial_tables_seen} partial table(s) seen")
            lines += [f"{f.test}: secret leaked: {leak}" for leak in f.leaks]
        return lines
