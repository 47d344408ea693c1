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
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

from zlv_dwh import config_schema
from zlv_dwh.config_schema import Strict, close_match
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


# --- the YAML schema (include/config/pii.yml) ---

# Class names the code gives a meaning to (the RGPD audit, the public views): the file must define them.
CLASSES_USED_BY_THE_CODE = ("none", "pseudonymised", "aggregated")
# Patterns the derived `has_phone` / `has_email` treatments of production_tables.yml are computed with.
PATTERNS_USED_BY_THE_CODE = ("email", "french_phone")


def _compiles(pattern: str) -> str:
    """A pattern that does not compile would fail the audit mid-run, or match nothing at all."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} does not compile: {exc}") from None
    return pattern


# Kept exactly as written: a space in a pattern is part of what it matches.
Pattern = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1), AfterValidator(_compiles)]


def _raw_column(ref: str) -> str:
    if len(ref.split(".")) != 3 or not all(ref.split(".")):
        raise ValueError(f"{ref!r} is not schema.table.column")
    return ref


class PseudonymisationKeySource(Strict):
    env: str = Field(min_length=1)
    airflow_variable: str = Field(min_length=1)


class DateOfBirthScan(Strict):
    pattern: Pattern
    name_like_columns: Pattern | None = None


class ContentScan(Strict):
    sample_rows: int | None = Field(None, gt=0)
    full_scan_below_rows: int | None = Field(None, ge=0)
    patterns: dict[str, Pattern] = Field(min_length=1)
    date_of_birth: DateOfBirthScan | None = None
    known_personal_hashes: list[Annotated[str, AfterValidator(_raw_column)]] = []

    @field_validator("patterns")
    @classmethod
    def _patterns_the_code_reads(cls, patterns: dict[str, str]) -> dict[str, str]:
        missing = [name for name in PATTERNS_USED_BY_THE_CODE if name not in patterns]
        if missing:
            unknown = [name for name in patterns if name not in PATTERNS_USED_BY_THE_CODE]
            raise ValueError(
                f"pattern {missing[0]} is required (the has_phone / has_email treatments use it){close_match(missing[0], unknown)}"
            )
        return patterns


class SmallCellRule(Strict):
    base_count: str = Field(min_length=1)


class SmallCells(Strict):
    threshold: int = Field(ge=1)
    rounding_base: int = Field(5, ge=1)
    marts: dict[str, SmallCellRule]


class PublicViews(Strict):
    schema_: str = Field(alias="schema", min_length=1)
    exclude: list[str] = []
    small_cells: SmallCells

    @model_validator(mode="after")
    def _excluded_marts_have_no_rule(self):
        both = sorted(set(self.exclude) & set(self.small_cells.marts))
        if both:
            raise ValueError(f"mart(s) {', '.join(both)} both excluded and given a small-cell rule: choose one")
        return self


class PiiPolicyFile(Strict):
    classes: dict[str, str] = Field(min_length=1)
    allowed_in_marts: list[str] = Field(min_length=1)
    personal_name_patterns: list[Pattern] = Field(min_length=1)
    key: PseudonymisationKeySource
    content_scan: ContentScan | None = None
    public_views: PublicViews | None = None

    @model_validator(mode="after")
    def _classes_are_defined(self):
        missing = [c for c in CLASSES_USED_BY_THE_CODE if c not in self.classes]
        if missing:
            raise ValueError(f"classes: {', '.join(missing)} must be defined (the RGPD audit and the public views use them)")
        for name in self.allowed_in_marts:
            if name not in self.classes:
                raise ValueError(f"allowed_in_marts: class {name} is not in classes{close_match(name, self.classes)}")
        if "personal" in self.allowed_in_marts:
            raise ValueError("allowed_in_marts: personal data is never allowed in a mart")
        return self


@lru_cache(maxsize=4)
def load_policy(path: Path | None = None) -> PiiPolicy:
    """Read and validate the policy; a misspelled key or a broken pattern fails here, not mid-audit."""
    declared = config_schema.load(PiiPolicyFile, Path(path or CONFIG_DIR / "pii.yml"))
    # The audit and the public views read these two as plain mappings (tests replace them so).
    content_scan = declared.content_scan.model_dump(exclude_none=True) if declared.content_scan else {}
    public_views = (
        declared.public_views.model_dump(by_alias=True, exclude_none=True)
        if declared.public_views
        else {"schema": "public", "small_cells": {"threshold": 5, "marts": {}}}
    )
    return PiiPolicy(
        classes=tuple(declared.classes),
        allowed_in_marts=frozenset(declared.allowed_in_marts),
        personal_name_patterns=tuple(re.compile(p) for p in declared.personal_name_patterns),
        key_env=declared.key.env,
        key_airflow_variable=declared.key.airflow_variable,
        content_scan=content_scan,
        public_views=public_views,
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


# Words that are not part of whom a name designates: civil titles, particles, marital mentions.
NAME_STOPWORDS = (
    "m",
    "mr",
    "mme",
    "mlle",
    "melle",
    "monsieur",
    "madame",
    "mademoiselle",
    "messieurs",
    "mesdames",
    "dr",
    "docteur",
    "me",
    "maitre",
    "pr",
    "de",
    "du",
    "des",
    "d",
    "la",
    "le",
    "les",
    "l",
    "van",
    "von",
    "der",
    "den",
    "di",
    "da",
    "dos",
    "del",
    "nee",
    "ne",
    "nees",
    "epouse",
    "ep",
    "epse",
    "veuve",
    "vve",
    "dite",
    "dit",
    "et",
)
# A known name is matched on its token set; values are read up to this many distinct tokens.
NAME_MAX_TOKENS = 4
TEXT_MAX_TOKENS = 12


def name_tokens_sql(expression: str) -> str:
    """DuckDB SQL: the distinct, sorted tokens of a name or a text, normalised the same way on both
    sides of the comparison: accents stripped, case folded, punctuation as spaces, titles,
    particles and "née" removed, one-letter initials dropped. "Mme Hélène MARCHAND-Léger, née
    Dupont" and "dupont marchand leger helene" give the same tokens."""
    stop = ", ".join(f"'{w}'" for w in NAME_STOPWORDS)
    folded = f"regexp_replace(lower(strip_accents(cast({expression} as varchar))), '[^a-z0-9]+', ' ', 'g')"
    return f"list_sort(list_distinct(list_filter(string_split(trim({folded}), ' '), w -> length(w) > 1 and w not in ({stop}))))"


def name_key_sql(expression: str) -> str:
    """The matching key of a known person's name: its sorted tokens joined by a space, NULL when
    fewer than two tokens remain (a lone surname would match streets and companies) or more than
    NAME_MAX_TOKENS."""
    tokens = name_tokens_sql(expression)
    return f"case when len({tokens}) between 2 and {NAME_MAX_TOKENS} then array_to_string({tokens}, ' ') end"


KNOWN_PEOPLE_DDL = """
create schema if not exists ops;
create table if not exists ops.known_people_hashes (
    source varchar,  -- schema.table.columns the names were read from (never the names)
    kind varchar,    -- 'token': one name token; 'name': a set of two or more tokens of one name
    h varchar        -- HMAC-SHA256 (the pseudonymisation key) of the token or the sorted token set
)"""


def token_sets_sql(tokens: str) -> str:
    """(rid, k) for every set of 2 to NAME_MAX_TOKENS distinct tokens of each rid of the relation
    `tokens` (rid, w), written in sorted order: the keys a name and a text are compared on."""
    parts = []
    for size in range(2, NAME_MAX_TOKENS + 1):
        joins = "".join(f" join {tokens} t{i} on t{i}.rid = t0.rid and t{i}.w > t{i - 1}.w" for i in range(1, size))
        key = " || ' ' || ".join(f"t{i}.w" for i in range(size))
        parts.append(f"select t0.rid, {key} as k from {tokens} t0{joins}")
    return " union all ".join(parts)


def record_known_names(con, source: str, relation: str, name_expression: str) -> int:
    """Store the keyed hashes of the names of `relation` (each name's tokens, and every set of two
    or more of them), so that the audit can find a real person's name in any order, case, with a
    title or without accents, while the names themselves are dropped. Needs `install_key`."""
    con.execute(KNOWN_PEOPLE_DDL)
    con.execute(
        f"create or replace temp table _zlv_name_tokens as "
        f"select rid, unnest(tokens) as w from (select row_number() over () as rid, {name_tokens_sql(name_expression)} as tokens "
        f"from {relation}) where len(tokens) between 2 and {NAME_MAX_TOKENS}"
    )
    con.execute(
        "insert into ops.known_people_hashes select * from ("
        f"select distinct ? as source, 'token' as kind, {hmac_sql('w')} as h from _zlv_name_tokens "
        f"union select distinct ?, 'name', {hmac_sql('k')} from ({token_sets_sql('_zlv_name_tokens')})"
        ") new where not exists (select 1 from ops.known_people_hashes old "
        "where old.source = new.source and old.kind = new.kind and old.h = new.h)",
        [source, source],
    )
    con.execute("drop table _zlv_name_tokens")
    return con.execute("select count(*) from ops.known_people_hashes where source = ?", [source]).fetchone()[0]


def known_name_hits_sql(scan_relation: str, column: str) -> str:
    """SQL counting the rows of `scan_relation` whose `column` contains a known person's name
    (two or more of its tokens, any order): tokens are first kept only when their keyed hash is a
    known name token, so long texts cost one hash per word."""
    return f"""
        with texts as (
            select row_number() over () as rid, {name_tokens_sql(column)}[1:{TEXT_MAX_TOKENS * 4}] as tokens
            from {scan_relation} where {column} is not null
        ),
        words as (select rid, unnest(tokens) as w from texts),
        known_words as (
            select rid, w from words
            where {hmac_sql("w")} in (select h from ops.known_people_hashes where kind = 'token')
        )
        select count(distinct rid) from ({token_sets_sql("known_words")}) sets
        where {hmac_sql("k")} in (select h from ops.known_people_hashes where kind = 'name')
    """
