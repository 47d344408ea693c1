"""The production tables' declaration (include/config/production_tables.yml), strictly parsed.

Personal data is denied by default: every source column has a declared treatment (`keep`, `drop`,
`pseudonymise`, a derived non-personal value, or the JSON keys kept). A column without one — a
column added in production later included — is never read from PostgreSQL; the load reports it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from zlv_dwh import config_schema
from zlv_dwh.config_schema import Strict, close_match
from zlv_dwh.settings import CONFIG_DIR

DELETE_MODES = ("apply", "flag", "ignore")
SIMPLE_TREATMENTS = ("keep", "drop", "pseudonymise")
# Derived values that keep what the dashboards need of a free-text column and nothing personal.
DERIVATIONS = ("length", "has_phone", "has_email")


@dataclass(frozen=True)
class JsonFilter:
    """The keys of a JSON column that are copied; every other key is removed before it is stored.
    With `by`, the kept keys depend on the value of that column (the event type); a value with no
    entry keeps nothing (the payload is stored as NULL)."""

    keys: tuple[str, ...] = ()
    by: str | None = None
    keys_by_value: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class TableSpec:
    """One declared table. Built from the YAML (every column classified), or in code by tests and
    benches, which may set `keep_unclassified` (the YAML schema has no such key)."""

    name: str
    primary_key: tuple[str, ...]
    mode: str = "full"
    watermark: tuple[str, ...] | str | None = None
    watermark_fallback: str | None = None
    deletes: str = "apply"
    overlap: dt.timedelta = dt.timedelta(minutes=10)
    future_tolerance: dt.timedelta = dt.timedelta(minutes=60)
    keep: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    pseudonymise: tuple[str, ...] = ()
    derive: dict[str, tuple[str, ...]] = field(default_factory=dict)
    json_keys: dict[str, JsonFilter] = field(default_factory=dict)
    row_filter: str | None = None
    # PostgreSQL counted updates although the watermark cannot show them (append-only tables whose
    # rows are blanked in place, e.g. an erased event payload): `reload` re-reads the whole table.
    updates_in_place: str = "ignore"
    # Columns that together hold a real person's name (e.g. (first_name, last_name)): read at each
    # load only to store the keyed hashes of their tokens (ops.known_people_hashes) the RGPD audit
    # matches the marts against; whatever their own treatment (usually drop), never copied for this.
    known_names: tuple[tuple[str, ...], ...] = ()
    keep_unclassified: bool = False

    def __post_init__(self):
        if isinstance(self.watermark, str):
            object.__setattr__(self, "watermark", (self.watermark,))
        if self.mode not in ("full", "incremental"):
            raise ValueError(f"table {self.name}: mode must be full or incremental, got {self.mode!r}")
        if self.mode == "incremental" and not self.watermark:
            raise ValueError(f"table {self.name}: incremental mode needs a watermark column")
        if self.deletes not in DELETE_MODES:
            raise ValueError(f"table {self.name}: deletes must be one of {DELETE_MODES}, got {self.deletes!r}")
        if self.updates_in_place not in ("ignore", "reload"):
            raise ValueError(f"table {self.name}: updates_in_place must be ignore or reload, got {self.updates_in_place!r}")
        if not self.primary_key:
            raise ValueError(f"table {self.name}: a primary key is required")
        # Keys and watermarks are read in clear; the YAML must say so, a spec built in code need not.
        declared = {c for _, names in self.treatments() for c in names}
        implied = tuple(c for c in (*self.primary_key, *self.watermark_columns) if c not in declared)
        if implied:
            object.__setattr__(self, "keep", tuple(dict.fromkeys((*self.keep, *implied))))
        seen: dict[str, str] = {}
        for kind, names in self.treatments():
            for name in names:
                if name in seen and seen[name] != kind:
                    raise ValueError(f"table {self.name}: column {name} is declared both {seen[name]} and {kind}")
                seen[name] = kind

    def treatments(self) -> list[tuple[str, tuple[str, ...]]]:
        return [
            ("keep", self.keep),
            ("drop", self.drop),
            ("pseudonymise", self.pseudonymise),
            ("derive", tuple(self.derive)),
            ("json_keys", tuple(self.json_keys)),
        ]

    def treatment_of(self, column: str) -> str | None:
        """How a source column is handled ('keep', 'drop', 'pseudonymise', 'derive:length,...',
        'json_keys:...'), or None when nobody classified it."""
        if column in self.drop:
            return "drop"
        if column in self.pseudonymise:
            return "pseudonymise"
        if column in self.derive:
            return "derive:" + ",".join(self.derive[column])
        if column in self.json_keys:
            f = self.json_keys[column]
            if f.by:
                inner = ";".join(f"{v}={','.join(k)}" for v, k in sorted(f.keys_by_value.items()))
                return f"json_keys:by {f.by}:{inner}"
            return "json_keys:" + ",".join(f.keys)
        if column in self.keep or self.keep_unclassified:
            return "keep"
        return None

    @property
    def declared_columns(self) -> tuple[str, ...]:
        return tuple(c for _, names in self.treatments() for c in names)

    @property
    def watermark_columns(self) -> tuple[str, ...]:
        return tuple(self.watermark or ()) + ((self.watermark_fallback,) if self.watermark_fallback else ())

    def watermark_sql(self, alias: str | None = None) -> str:
        """The change marker: the greatest of the watermark columns (NULLs ignored, in PostgreSQL
        and DuckDB alike), else the fallback."""
        from zlv_dwh.warehouse import quote_ident

        def col(c: str) -> str:
            return (f"{alias}." if alias else "") + quote_ident(c)

        marks = [col(c) for c in self.watermark or ()]
        expr = marks[0] if len(marks) == 1 else f"greatest({', '.join(marks)})"
        return f"coalesce({expr}, {col(self.watermark_fallback)})" if self.watermark_fallback else expr


@dataclass(frozen=True)
class ProductionConfig:
    connection_id: str
    schema: str
    target_schema: str
    tables: dict[str, TableSpec]


# --- the YAML schema ---


def _one_or_many(value):
    return [value] if isinstance(value, str) else value


def _simple_treatment(value):
    if isinstance(value, str) and value not in SIMPLE_TREATMENTS:
        raise ValueError(
            f"unknown treatment {value!r}{close_match(value, SIMPLE_TREATMENTS)}; one of {', '.join(SIMPLE_TREATMENTS)}"
        )
    return value


class DeriveTreatment(Strict):
    derive: list[Literal["length", "has_phone", "has_email"]] = Field(min_length=1)


class JsonKeysByTreatment(Strict):
    column: str
    keys: dict[str, list[str]]


class JsonTreatment(Strict):
    json_keys: list[str] | None = None
    json_keys_by: JsonKeysByTreatment | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.json_keys is None) == (self.json_keys_by is None):
            raise ValueError("give either json_keys (a list) or json_keys_by (column + keys per value)")
        return self


Treatment = str | DeriveTreatment | JsonTreatment
COMPLEX_TREATMENT_KEYS = ("derive", "json_keys", "json_keys_by")


def _treatment(column: str, value) -> Treatment:
    """One column's treatment, with an error that names the column and the closest spelling."""
    if isinstance(value, str):
        return _simple_treatment(value)
    if isinstance(value, dict):
        unknown = [k for k in value if k not in COMPLEX_TREATMENT_KEYS]
        if unknown:
            k = str(unknown[0])
            raise ValueError(f"unknown treatment key `{k}`{close_match(k, COMPLEX_TREATMENT_KEYS)}")
        try:
            model = DeriveTreatment if "derive" in value else JsonTreatment
            return model.model_validate(value)
        except ValidationError as exc:
            raise ValueError("; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())) from None
    raise ValueError(f"a treatment is one of {', '.join(SIMPLE_TREATMENTS)}, or a mapping with derive / json_keys / json_keys_by")


class TableDefaults(Strict):
    mode: Literal["full", "incremental"] = "full"
    overlap_minutes: float = Field(10, ge=0)
    future_tolerance_minutes: float = Field(60, ge=0)
    deletes: Literal["apply", "flag", "ignore"] = "apply"


class TableDeclaration(Strict):
    primary_key: list[str] = Field(min_length=1)
    mode: Literal["full", "incremental"] | None = None
    watermark: Annotated[list[str], BeforeValidator(_one_or_many)] | None = None
    watermark_fallback: str | None = None
    deletes: Literal["apply", "flag", "ignore"] | None = None
    overlap_minutes: float | None = Field(None, ge=0)
    future_tolerance_minutes: float | None = Field(None, ge=0)
    updates_in_place: Literal["ignore", "reload"] = "ignore"
    row_filter: str | None = None
    description: str | None = None
    known_names: list[list[str]] = []
    columns: dict[str, Treatment] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _no_treatment_lists(cls, value):
        if isinstance(value, dict):
            for key in value:
                if isinstance(key, str) and close_match(key, (*SIMPLE_TREATMENTS, "pseudonymize")):
                    raise ValueError(
                        f"`{key}:` lists are not read: personal data is denied by default, so every column is "
                        f"declared under `columns:` with its treatment (e.g. `columns: {{email: pseudonymise}}`)"
                    )
        return value

    @field_validator("columns", mode="before")
    @classmethod
    def _columns_mapping(cls, value):
        if not isinstance(value, dict):
            raise ValueError("columns must map every source column to its treatment (keep, drop, pseudonymise, ...)")
        problems, parsed = [], {}
        for column, treatment in value.items():
            try:
                parsed[column] = _treatment(column, treatment)
            except ValueError as exc:
                problems.append(f"columns.{column}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return parsed

    @model_validator(mode="after")
    def _keys_are_copied(self):
        for kind, names in (("primary_key", self.primary_key), ("watermark", self.watermark or [])):
            for name in names:
                treatment = self.columns.get(name)
                if treatment is None:
                    raise ValueError(f"{kind} column {name} has no treatment in columns{close_match(name, self.columns)}")
                if treatment != "keep":
                    raise ValueError(f"{kind} column {name} must be kept in clear (its treatment is {treatment!r})")
        for group in self.known_names:
            for name in group:
                if name not in self.columns:
                    raise ValueError(f"known_names column {name} has no treatment in columns{close_match(name, self.columns)}")
        if self.watermark_fallback and self.columns.get(self.watermark_fallback) != "keep":
            raise ValueError(f"watermark_fallback column {self.watermark_fallback} must be declared keep")
        for column, treatment in self.columns.items():
            if isinstance(treatment, JsonTreatment) and treatment.json_keys_by:
                by = treatment.json_keys_by.column
                if self.columns.get(by) != "keep":
                    raise ValueError(f"columns.{column}.json_keys_by.column {by} must be a column declared keep")
        return self


class ProductionTablesFile(Strict):
    connection_id: str
    schema_: str = Field(alias="schema")
    target_schema: str
    defaults: TableDefaults = TableDefaults()
    tables: dict[str, TableDeclaration] = Field(min_length=1)


def _spec(name: str, decl: TableDeclaration, defaults: TableDefaults) -> TableSpec:
    by_kind: dict[str, list[str]] = {k: [] for k in SIMPLE_TREATMENTS}
    derive, json_keys = {}, {}
    for column, treatment in decl.columns.items():
        if isinstance(treatment, str):
            by_kind[treatment].append(column)
        elif isinstance(treatment, DeriveTreatment):
            derive[column] = tuple(dict.fromkeys(treatment.derive))
        elif treatment.json_keys is not None:
            json_keys[column] = JsonFilter(keys=tuple(treatment.json_keys))
        else:
            by = treatment.json_keys_by
            json_keys[column] = JsonFilter(by=by.column, keys_by_value={v: tuple(k) for v, k in by.keys.items()})
    return TableSpec(
        name=name,
        primary_key=tuple(decl.primary_key),
        mode=decl.mode or defaults.mode,
        watermark=tuple(decl.watermark) if decl.watermark else None,
        watermark_fallback=decl.watermark_fallback,
        deletes=decl.deletes or defaults.deletes,
        overlap=dt.timedelta(minutes=decl.overlap_minutes if decl.overlap_minutes is not None else defaults.overlap_minutes),
        future_tolerance=dt.timedelta(
            minutes=decl.future_tolerance_minutes
            if decl.future_tolerance_minutes is not None
            else defaults.future_tolerance_minutes
        ),
        keep=tuple(by_kind["keep"]),
        drop=tuple(by_kind["drop"]),
        pseudonymise=tuple(by_kind["pseudonymise"]),
        derive=derive,
        json_keys=json_keys,
        row_filter=decl.row_filter,
        updates_in_place=decl.updates_in_place,
        known_names=tuple(tuple(group) for group in decl.known_names if group),
    )


def load_config(path: Path | None = None) -> ProductionConfig:
    """Read and validate the table declarations; cheap enough for DAG parse time. A bad key or
    treatment fails here, naming the file, the key and the closest valid spelling."""
    path = Path(path or CONFIG_DIR / "production_tables.yml")
    raw = config_schema.load(ProductionTablesFile, path)
    try:
        tables = {name: _spec(name, decl, raw.defaults) for name, decl in raw.tables.items()}
    except ValueError as exc:
        raise config_schema.ConfigError(f"{path}: {exc}") from None
    return ProductionConfig(raw.connection_id, raw.schema_, raw.target_schema, tables)
