"""The RGPD gate before publication: every mart column is classified, and none is personal.

Input: the columns that really exist in the marts schema of the warehouse (not only what the yml
says), their `meta.rgpd` class from dbt's manifest, and the PII policy's name patterns. A column
with no class, an unknown class, class `personal`, or a name that denotes personal data without a
pseudonymised/aggregated class fails the audit. Findings name the mart and the column, never a value."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from zlv_dwh import pii
from zlv_dwh.pii import PiiPolicy, load_policy
from zlv_dwh.warehouse import quote_ident, quote_literal, table_exists

log = logging.getLogger(__name__)

REPORT_DDL = """
create schema if not exists ops;
create table if not exists ops.rgpd_audit (
    run_id varchar not null,
    audited_at timestamp not null,
    mart varchar not null,
    column_name varchar,
    classification varchar,
    check_name varchar not null,
    status varchar not null,
    detail varchar
);
"""


class RgpdAuditFailed(RuntimeError):
    """The marts expose (or may expose) personal data: publication must not happen."""


@dataclass
class ColumnCheck:
    mart: str
    column_name: str
    classification: str | None
    check_name: str
    status: str  # pass | fail
    detail: str = ""


@dataclass
class AuditReport:
    run_id: str
    audited_at: str
    marts: list[str] = field(default_factory=list)
    checks: list[ColumnCheck] = field(default_factory=list)

    approvals: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[ColumnCheck]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def verdict(self) -> str:
        return "fail" if self.failures or not self.marts else "pass"

    def summary(self) -> str:
        scanned = sum(1 for c in self.checks if c.check_name.startswith("content:"))
        lines = [
            f"RGPD audit {self.verdict.upper()}: {len(self.marts)} mart(s), "
            f"{sum(1 for c in self.checks if c.check_name == 'classification')} column(s), "
            f"{scanned} content check(s), {len(self.failures)} failure(s)"
        ]
        lines += [f"  FAIL {c.mart}.{c.column_name}: {c.check_name} ({c.detail})" for c in self.failures]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({"verdict": self.verdict, **asdict(self)}, indent=2, ensure_ascii=False)


def _column_class(column: dict) -> str | None:
    meta = dict(column.get("meta") or {})
    meta.update((column.get("config") or {}).get("meta") or {})
    return meta.get("rgpd")


def documentation_gaps(con: duckdb.DuckDBPyConnection, manifest_path: Path, policy: PiiPolicy | None = None) -> list[str]:
    """Every model of the project, not only marts: described, every column classified in a class
    allowed in models, and the YAML listing exactly the columns the built relation has."""
    policy = policy or load_policy()
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    project = manifest["metadata"]["project_name"]
    problems = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["package_name"] != project:
            continue
        name = node["name"]
        if not node["description"].strip():
            problems.append(f"{name}: no description")
        for column, spec in node["columns"].items():
            if not spec.get("description", "").strip():
                problems.append(f"{name}.{column}: no description")
            if _column_class(spec) not in policy.allowed_in_marts:
                problems.append(f"{name}.{column}: rgpd class {_column_class(spec)!r} not in {sorted(policy.allowed_in_marts)}")
        built = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns where table_catalog = current_database() "
                "and table_schema = ? and table_name = ?",
                [node["schema"], node.get("alias") or name],
            ).fetchall()
        }
        if not built:
            problems.append(f"{name}: not built in {node['schema']}")
            continue
        problems += [f"{name}.{c}: in the table, not in the YAML" for c in sorted(built - set(node["columns"]))]
        problems += [f"{name}.{c}: in the YAML, not in the table" for c in sorted(set(node["columns"]) - built)]
    return problems


def mart_classifications(manifest_path: Path, marts_schema: str) -> dict[str, dict[str, str | None]]:
    """{mart: {column: class}} for every dbt model materialised in the marts schema."""
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    result = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["schema"] == marts_schema:
            name = node.get("alias") or node["name"]
            result[name] = {col: _column_class(spec) for col, spec in node.get("columns", {}).items()}
    return result


def audit(
    con: duckdb.DuckDBPyConnection,
    manifest_path: Path,
    run_id: str,
    marts_schema: str = "marts",
    policy: PiiPolicy | None = None,
    key: bytes | None = None,
) -> AuditReport:
    """Check every column of every table in the marts schema: its classification, its name, and
    the values of its text columns (content scan)."""
    policy = policy or load_policy()
    declared = mart_classifications(manifest_path, marts_schema)
    actual: dict[str, list[str]] = {}
    for table, column in con.execute(
        "select table_name, column_name from information_schema.columns where table_schema = ? "
        "order by table_name, ordinal_position",
        [marts_schema],
    ).fetchall():
        actual.setdefault(table, []).append(column)
    report = AuditReport(run_id=run_id, audited_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    report.marts = sorted(actual)
    for mart, columns in sorted(actual.items()):
        classes = declared.get(mart, {})
        for column in columns:
            cls = classes.get(column)
            check = ColumnCheck(mart, column, cls, "classification", "pass")
            if mart not in declared:
                check.status, check.detail = "fail", "table is not a dbt model of the project: no classification"
            elif cls is None:
                check.status, check.detail = "fail", "no meta.rgpd classification in the dbt yml"
            elif cls not in policy.classes:
                check.status, check.detail = "fail", f"unknown class {cls!r} (allowed: {', '.join(policy.classes)})"
            elif cls not in policy.allowed_in_marts:
                check.status, check.detail = "fail", f"class {cls!r} is not allowed in a mart"
            report.checks.append(check)
            pattern = policy.looks_personal(column)
            if pattern and cls not in ("pseudonymised", "aggregated"):
                report.checks.append(
                    ColumnCheck(mart, column, cls, "column_name", "fail", f"name matches personal-data pattern {pattern}")
                )
    if not report.marts:
        report.checks.append(ColumnCheck("*", "*", None, "marts_present", "fail", f"no table in schema {marts_schema}"))
    report.checks += content_scan(con, marts_schema, {m: declared.get(m, {}) for m in actual}, policy, key)
    return report


def _known_personal_hashes(con, policy: PiiPolicy) -> tuple[int, list[str]]:
    """Collect the keyed hashes of real names/emails from the raw zone into a temp table."""
    con.execute("create or replace temp table _zlv_personal_hashes (h varchar)")
    missing = []
    for ref in policy.content_scan.get("known_personal_hashes", []):
        schema, table, column = ref.split(".")
        if not table_exists(con, schema, table):
            missing.append(ref)
            continue
        con.execute(
            f"insert into _zlv_personal_hashes select distinct {quote_ident(column)} from "
            f"{quote_ident(schema)}.{quote_ident(table)} where {quote_ident(column)} is not null"
        )
    return con.execute("select count(*) from _zlv_personal_hashes").fetchone()[0], missing


def content_scan(
    con,
    marts_schema: str,
    classes: dict[str, dict],
    policy: PiiPolicy,
    key: bytes | None,
    columns_to_scan: dict[str, list[str]] | None = None,
) -> list[ColumnCheck]:
    """Look at the values of every text column (or of `columns_to_scan`, read as text: JSON
    included): patterns of personal data, and exact matches with the real owners' and users' names
    and emails, compared through their keyed hashes. Findings carry counts, never a value."""
    scan = policy.content_scan
    if not scan:
        return []
    checks: list[ColumnCheck] = []
    patterns = dict(scan.get("patterns", {}))
    dob = scan.get("date_of_birth") or {}
    hashes, missing = (0, [])
    if key:
        pii.install_key(con, key)
        hashes, missing = _known_personal_hashes(con, policy)
    else:
        checks.append(
            ColumnCheck(
                "*", "*", None, "content:known_people", "fail", "no pseudonymisation key: cannot compare with raw names/emails"
            )
        )
    if missing:
        checks.append(
            ColumnCheck("*", "*", None, "content:known_people", "skipped", f"not in the warehouse: {', '.join(missing)}")
        )
    known_names = bool(
        key
        and table_exists(con, "ops", "known_people_hashes")
        and con.execute("select count(*) from ops.known_people_hashes where kind = 'name'").fetchone()[0]
    )
    if key and not known_names:
        checks.append(
            ColumnCheck("*", "*", None, "content:known_names", "skipped", "no known name hashes yet (ops.known_people_hashes)")
        )
    text_columns: dict[str, list[str]] = {}
    if columns_to_scan is not None:
        text_columns = {t: list(c) for t, c in columns_to_scan.items() if c}
    else:
        for table, column in con.execute(
            "select table_name, column_name from information_schema.columns where table_catalog = current_database() "
            "and table_schema = ? and data_type = 'VARCHAR' order by table_name, ordinal_position",
            [marts_schema],
        ).fetchall():
            text_columns.setdefault(table, []).append(column)
    for mart, columns in sorted(text_columns.items()):
        relation = f"{quote_ident(marts_schema)}.{quote_ident(mart)}"
        rows = con.execute(f"select count(*) from {relation}").fetchone()[0]
        full = rows <= int(scan.get("full_scan_below_rows", 0))
        sample = "" if full else f" using sample reservoir({int(scan.get('sample_rows', 10000))} rows) repeatable (42)"
        projection = ", ".join(f"cast({quote_ident(c)} as varchar) as {quote_ident(c)}" for c in columns)
        con.execute(f"create or replace temp table _zlv_scan as select {projection} from {relation}{sample}")
        scanned = con.execute("select count(*) from _zlv_scan").fetchone()[0]
        how = f"{'all' if full else 'a sample of'} {scanned:,} row(s)"
        all_columns = [r[0] for r in con.execute(f"select column_name from (describe {relation})").fetchall()]
        name_like = [
            c for c in all_columns if re.search(dob.get("name_like_columns", "$^"), c.lower()) or policy.looks_personal(c)
        ]
        for column in columns:
            cls = classes.get(mart, {}).get(column)
            col = quote_ident(column)
            tests = dict(patterns)
            if dob and name_like:
                tests["date_of_birth"] = dob["pattern"]
            for name, pattern in tests.items():
                # a keyed hash (64 hex digits) holds digit runs that look like phones or NIRs
                hits = con.execute(
                    f"select count(*) from _zlv_scan where regexp_matches({col}, {quote_literal(pattern)}) "
                    f"and not regexp_full_match({col}, '[0-9a-f]{{64}}')"
                ).fetchone()[0]
                detail = f"{hits:,} value(s) of {how} match the {name} pattern"
                if name == "date_of_birth":
                    detail += f" next to name-like column(s) {', '.join(name_like)}"
                checks.append(ColumnCheck(mart, column, cls, f"content:{name}", "fail" if hits else "pass", detail))
            if key and hashes:
                hits = con.execute(
                    f"select count(*) from _zlv_scan where {pii.hmac_sql(col)} in (select h from _zlv_personal_hashes) "
                    f"or {pii.hmac_sql(f'trim({col})')} in (select h from _zlv_personal_hashes)"
                ).fetchone()[0]
                detail = f"{hits:,} value(s) of {how} are the name or email of a real owner or user (matched by keyed hash)"
                checks.append(ColumnCheck(mart, column, cls, "content:known_people", "fail" if hits else "pass", detail))
            if key and known_names:
                hits = con.execute(pii.known_name_hits_sql("_zlv_scan", col)).fetchone()[0]
                detail = (
                    f"{hits:,} value(s) of {how} contain a real owner's or user's name, in any order, case or accents "
                    "(token sets matched by keyed hash)"
                )
                checks.append(ColumnCheck(mart, column, cls, "content:known_names", "fail" if hits else "pass", detail))
    con.execute("drop table if exists _zlv_scan")
    return checks


RAW_RUN_SUFFIX = "#raw"
_TEXT_TYPES = ("VARCHAR", "JSON")


def audit_raw(
    con: duckdb.DuckDBPyConnection,
    config,
    run_id: str,
    policy: PiiPolicy | None = None,
    key: bytes | None = None,
) -> AuditReport:
    """Audit the raw production copy as the marts are audited, before dbt reads it: every raw
    column must come from a declared treatment (nothing unclassified reaches the warehouse), a
    column whose name denotes personal data must be pseudonymised, and the values of every text and
    JSON column that is not a keyed hash are scanned for emails, phones, birth dates and the names
    and emails of the real owners and users. A treatment that misses personal data fails here.

    `config` is the production tables' configuration (zlv_dwh.production_config.ProductionConfig)."""
    policy = policy or load_policy()
    schema = config.target_schema
    report = AuditReport(run_id=run_id + RAW_RUN_SUFFIX, audited_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    columns_by_table: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in con.execute(
        "select table_name, column_name, data_type from information_schema.columns where table_catalog = current_database() "
        "and table_schema = ? order by table_name, ordinal_position",
        [schema],
    ).fetchall():
        columns_by_table.setdefault(table, []).append((column, data_type))
    report.marts = sorted(columns_by_table)
    to_scan: dict[str, list[str]] = {}
    classes: dict[str, dict] = {}
    for table, columns in sorted(columns_by_table.items()):
        spec = config.tables.get(table)
        outputs: dict[str, str] = {}
        if spec is not None:
            for source in (*spec.keep, *spec.pseudonymise, *spec.json_keys):
                outputs[source] = spec.treatment_of(source)
            for source, functions in spec.derive.items():
                outputs.update({f"{source}_{fn}": f"derived from {source}" for fn in functions})
            # the SRID of a kept PostGIS column travels beside it (ingest_postgres.geometry_srid)
            outputs.update({f"{source}_srid": f"derived from {source}" for source in spec.keep})
        classes[table] = {}
        for column, data_type in columns:
            if column in ("_loaded_at", "_deleted_at"):
                continue
            treatment = outputs.get(column) or (spec.treatment_of(column) if spec is not None else None)
            cls = "pseudonymised" if treatment == "pseudonymise" else "none"
            classes[table][column] = cls
            check = ColumnCheck(f"{schema}.{table}", column, treatment, "classification", "pass")
            if spec is None:
                check.status, check.detail = "fail", "table not declared in production_tables.yml"
            elif treatment in (None, "drop"):
                check.status, check.detail = "fail", f"column has no treatment that copies it ({treatment or 'unclassified'})"
            report.checks.append(check)
            # In the raw zone every column was classified by a person, so a personal-looking name is a
            # warning there (e.g. notes.note_kind); the values are what the scan below judges.
            derived = treatment is not None and treatment.startswith("derived from")
            pattern = policy.looks_personal(column)
            if pattern and treatment != "pseudonymise" and not derived:
                report.checks.append(
                    ColumnCheck(
                        f"{schema}.{table}",
                        column,
                        treatment,
                        "column_name",
                        "warn",
                        f"name matches personal-data pattern {pattern}",
                    )
                )
            if data_type in _TEXT_TYPES and treatment != "pseudonymise":
                to_scan.setdefault(table, []).append(column)
    for check in content_scan(con, schema, classes, policy, key, columns_to_scan=to_scan):
        check.mart = check.mart if check.mart == "*" else f"{schema}.{check.mart}"
        report.checks.append(check)
    if not report.marts:
        report.checks.append(ColumnCheck("*", "*", None, "marts_present", "fail", f"no table in schema {schema}"))
    return report


def drop_failed_marts(con: duckdb.DuckDBPyConnection, report: AuditReport, marts_schema: str = "marts") -> list[str]:
    """After a failed audit, the marts it caught are dropped from the warehouse: the values that
    failed must not wait there for the next reader. What failed stays in ops.rgpd_audit (mart,
    column, check, counts: never a value); the next dbt build creates the marts again."""
    caught = sorted({c.mart for c in report.failures if c.mart != "*"})
    existing = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_catalog = current_database() and table_schema = ?",
            [marts_schema],
        ).fetchall()
    }
    dropped = [m for m in caught if m in existing]
    for mart in dropped:
        con.execute(f"drop table if exists {quote_ident(marts_schema)}.{quote_ident(mart)}")
    return dropped


def write_json(report: AuditReport, path: Path) -> Path:
    """The report as JSON, written atomically (beside the published file, read by people and tools)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(report.to_json(), encoding="utf-8")
    os.replace(tmp, path)
    return path


def record(con: duckdb.DuckDBPyConnection, report: AuditReport) -> None:
    """Store the report in ops.rgpd_audit (replacing an earlier audit of the same run)."""
    con.execute(REPORT_DDL)
    con.execute("begin transaction")
    con.execute("delete from ops.rgpd_audit where run_id = ?", [report.run_id])
    rows = [
        (report.run_id, report.audited_at, c.mart, c.column_name, c.classification, c.check_name, c.status, c.detail)
        for c in report.checks
    ]
    rows.append((report.run_id, report.audited_at, "*", None, None, "verdict", report.verdict, report.summary().splitlines()[0]))
    con.executemany("insert into ops.rgpd_audit values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("commit")


def verdict_of(con: duckdb.DuckDBPyConnection, run_id: str) -> str | None:
    row = (
        con.execute("select status from ops.rgpd_audit where run_id = ? and check_name = 'verdict'", [run_id]).fetchone()
        if table_exists(con, "ops", "rgpd_audit")
        else None
    )
    return row[0] if row else None
