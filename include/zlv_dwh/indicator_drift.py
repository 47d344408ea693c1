"""The indicator drift gate: headline figures about to be published, compared with the published ones.

A change beyond its declared tolerance (include/config/indicators.yml), or a key that disappears,
stops publication with a table of old value, new value and change — unless an operator approved
this run, which is recorded with the results. A first publication has nothing to compare: it passes."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from zlv_dwh import config_schema
from zlv_dwh.config_schema import Strict
from zlv_dwh.settings import CONFIG_DIR
from zlv_dwh.warehouse import quote_literal, table_exists

log = logging.getLogger(__name__)

DDL = """
create schema if not exists ops;
create table if not exists ops.indicator_drift (
    run_id varchar not null,
    checked_at timestamp not null,
    indicator varchar not null,
    key varchar,
    old_value double,
    new_value double,
    change double,
    tolerance double,
    status varchar not null,   -- pass | breach | new | approved | verdict
    detail varchar
);
"""


class IndicatorDriftError(RuntimeError):
    """Headline indicators moved beyond tolerance; an operator must look, then approve or fix."""


@dataclass(frozen=True)
class Indicator:
    name: str
    description: str
    sql: str
    tolerance: float


@dataclass(frozen=True)
class DriftConfig:
    indicators: tuple[Indicator, ...]
    approval_param: str
    approval_variable: str


# --- the YAML schema (include/config/indicators.yml) ---


class ApprovalSwitches(Strict):
    airflow_param: str = Field(min_length=1)
    airflow_variable: str = Field(min_length=1)


class IndicatorDeclaration(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    sql: str = Field(min_length=1)
    tolerance: float

    @field_validator("sql")
    @classmethod
    def _reads_the_marts_placeholder(cls, sql: str) -> str:
        """Without {marts} both sides of the comparison read the same tables: the gate always passes."""
        if "{marts}" not in sql:
            raise ValueError("must read its tables from {marts} (e.g. `from {marts}.vacancy_by_territory`)")
        try:
            sql.format(marts="marts")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"braces other than {{marts}} must be doubled ({{{{ }}}}): {exc!r}") from None
        return sql

    @field_validator("tolerance")
    @classmethod
    def _is_a_fraction(cls, tolerance: float) -> float:
        """5 for 5% would let a 400% jump through."""
        if not 0 <= tolerance <= 1:
            raise ValueError(f"a relative change between 0 and 1 (0.05 for 5%), got {tolerance}")
        return tolerance


class IndicatorsFile(Strict):
    approval: ApprovalSwitches
    indicators: list[IndicatorDeclaration] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_are_unique(self):
        """The name keys the recorded comparisons: two indicators with one name would mix their rows."""
        names = [i.name for i in self.indicators]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"indicator name(s) used twice: {', '.join(repeated)}")
        return self


def load_config(path: Path | None = None) -> DriftConfig:
    """Read and validate the indicators; a misspelled key fails here, naming file, key and fix."""
    declared = config_schema.load(IndicatorsFile, Path(path or CONFIG_DIR / "indicators.yml"))
    indicators = tuple(Indicator(i.name, i.description, i.sql, i.tolerance) for i in declared.indicators)
    return DriftConfig(indicators, declared.approval.airflow_param, declared.approval.airflow_variable)


@dataclass
class Comparison:
    indicator: str
    key: str
    old_value: float | None
    new_value: float | None
    change: float | None
    tolerance: float
    status: str  # pass | breach | new


@dataclass
class DriftReport:
    run_id: str
    checked_at: str
    first_publication: bool = False
    approved: bool = False
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def breaches(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.status == "breach"]

    @property
    def verdict(self) -> str:
        if not self.breaches:
            return "pass"
        return "approved" if self.approved else "fail"

    def table(self) -> str:
        rows = [f"{'indicator':<32} {'key':<16} {'old':>12} {'new':>12} {'change':>8} {'allowed':>8}"]
        for c in self.breaches:
            change = "gone" if c.new_value is None else f"{c.change:+.1%}" if c.change is not None else "from 0"
            old = "-" if c.old_value is None else f"{c.old_value:,.0f}"
            new = "-" if c.new_value is None else f"{c.new_value:,.0f}"
            rows.append(f"{c.indicator:<32} {c.key:<16} {old:>12} {new:>12} {change:>8} {c.tolerance:>8.0%}")
        return "\n".join(rows)

    def summary(self) -> str:
        head = f"indicator drift gate {self.verdict.upper()}: {len(self.comparisons)} value(s) compared"
        if self.first_publication:
            return head + " (first publication: nothing to compare)"
        head += f", {len(self.breaches)} beyond tolerance"
        if self.approved and self.breaches:
            head += " — approved by an operator for this run"
        return head + ("\n" + self.table() if self.breaches else "") + "".join(f"\n  note: {n}" for n in self.notes)

    def as_dict(self) -> dict:
        return {"verdict": self.verdict, **asdict(self)}


def _values(con, indicator: Indicator, marts: str) -> dict[str, float]:
    rows = con.execute(indicator.sql.format(marts=marts)).fetchall()
    return {str(k): float(v) for k, v in rows if v is not None}


def compare(
    con, published: Path, run_id: str, approved: bool, config: DriftConfig | None = None, marts_schema: str = "marts"
) -> DriftReport:
    """Compare the warehouse's marts with the published file's (attached read-only)."""
    config = config or load_config()
    report = DriftReport(run_id, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), approved=approved)
    if not Path(published).exists():
        report.first_publication = True
        return report
    con.execute(f"attach {quote_literal(str(published))} as _zlv_published (read_only)")
    try:
        for indicator in config.indicators:
            new = _values(con, indicator, marts_schema)
            try:
                old = _values(con, indicator, "_zlv_published.main")
            except Exception as exc:  # the published file predates this indicator or its columns
                report.notes.append(f"{indicator.name}: not comparable with the published file ({str(exc).splitlines()[0]})")
                continue
            for key in sorted(set(old) | set(new)):
                o, n = old.get(key), new.get(key)
                change = None if o in (None, 0) or n is None else (n - o) / abs(o)
                if o is None:
                    status = "new"
                elif n is None:
                    status = "breach"  # a territory or millésime vanished
                elif o == 0:
                    status = "pass" if n == 0 else "breach"
                else:
                    status = "breach" if abs(change) > indicator.tolerance else "pass"
                report.comparisons.append(Comparison(indicator.name, key, o, n, change, indicator.tolerance, status))
    finally:
        con.execute("detach _zlv_published")
    return report


def record(con, report: DriftReport) -> None:
    """Store the comparisons and the verdict in ops.indicator_drift (a retry replaces its run's rows)."""
    con.execute(DDL)
    con.execute("begin transaction")
    con.execute("delete from ops.indicator_drift where run_id = ?", [report.run_id])
    now = report.checked_at
    rows = [
        (
            report.run_id,
            now,
            c.indicator,
            c.key,
            c.old_value,
            c.new_value,
            c.change,
            c.tolerance,
            "approved" if c.status == "breach" and report.approved else c.status,
            None,
        )
        for c in report.comparisons
    ]
    rows.append(
        (
            report.run_id,
            now,
            "*",
            None,
            None,
            None,
            None,
            None,
            "verdict",
            f"{report.verdict}: {report.summary().splitlines()[0]}",
        )
    )
    con.executemany("insert into ops.indicator_drift values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("commit")


def verdict_of(con, run_id: str) -> str | None:
    if not table_exists(con, "ops", "indicator_drift"):
        return None
    row = con.execute("select detail from ops.indicator_drift where run_id = ? and status = 'verdict'", [run_id]).fetchone()
    return row[0].split(":", 1)[0] if row else None


def write_json(report: DriftReport, path: Path) -> Path:
    path.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    return path
