"""The `public` views of the published file: no pseudonymised column, no per-person timestamp, and
counts that cannot be undone by arithmetic.

Built from the one PII policy (include/config/pii.yml, `public_views`) and each column's
`meta.rgpd` class. Metabase's widest audience and the partner exports read only these views; the
marts tables beside them stay for the data team.

The small-cell rule, applied to every row of every public mart (all territorial levels):
- a row whose `base_count` (the people or dwellings it is about) is under `threshold` has every
  aggregated column suppressed (NULL) and `small_cell_suppressed` true;
- any other count from 1 to threshold - 1 is suppressed (NULL); 0 is shown (nobody);
- every other count is rounded to the nearest multiple of `rounding_base`.
Because a shown count is only known to within +-rounding_base/2, a difference of shown cells
(parent minus visible children, a mart minus another) bounds a suppressed cell to an interval that
always holds several values, never one: suppression alone would be undone by subtraction. The same
true value always gets the same shown value, so the same figure in two marts cannot be compared to
recover either. Per-person timestamps (`*_at`, `*_date`) are not published at all."""

from __future__ import annotations

import re
from dataclasses import dataclass

from zlv_dwh.pii import PiiPolicy, load_policy
from zlv_dwh.warehouse import quote_ident

PUBLIC_CLASSES = ("none", "aggregated")
# when something happened to one person or one household: never in the public schema
_TIMESTAMP_NAME = re.compile(r"(_at|(^|_)date)$")
_TIMESTAMP_TYPES = ("TIMESTAMP", "TIME")


class PublicViewError(RuntimeError):
    """A public view would expose a non-public column, a timestamp or a small or unrounded count."""


@dataclass(frozen=True)
class PublicView:
    name: str
    sql: str  # runs inside the published file (tables in `main`)
    columns: tuple[str, ...]
    counts: tuple[str, ...]  # aggregated counts (`*_count`): the cells the small-cell rule is about
    small_cells: dict | None


def shown_count(true_count: int | None, threshold: int, base: int) -> int | None:
    """The public value of a count (the rule above, in Python for the tests and the docs)."""
    if true_count is None or 0 < true_count < threshold:
        return None
    return int(base * round_half_up(true_count / base))


def round_half_up(x: float) -> int:
    return int(x + 0.5) if x >= 0 else -int(-x + 0.5)


def definitions(
    classes: dict[str, dict[str, str | None]], tables: list[str], policy: PiiPolicy | None = None
) -> list[PublicView]:
    """One view per published mart not excluded: public columns only, the small-cell rule applied.
    A mart with aggregated columns and no rule in pii.yml is refused (a new mart is not published
    in `public` until someone says which count is its base)."""
    policy = policy or load_policy()
    config = policy.public_views
    cells = config["small_cells"]
    threshold, base = int(cells["threshold"]), int(cells.get("rounding_base", 5))
    views = []
    for table in sorted(tables):
        if table in config.get("exclude", []) or table.startswith("_"):
            continue
        cols = classes.get(table, {})
        public = [c for c, cls in cols.items() if cls in PUBLIC_CLASSES and not _TIMESTAMP_NAME.search(c)]
        if not public:
            continue
        aggregated = [c for c in public if cols[c] == "aggregated"]
        counts = tuple(c for c in aggregated if c.endswith("_count"))
        rule = cells["marts"].get(table)
        if aggregated and not rule:
            raise PublicViewError(
                f"public view {table}: aggregated column(s) {', '.join(aggregated)} but no small-cell rule: add "
                f"public_views.small_cells.marts.{table}.base_count to include/config/pii.yml, or exclude the mart"
            )
        select = []
        if rule:
            if rule["base_count"] not in counts:
                raise PublicViewError(f"public view {table}: base_count {rule['base_count']} is not an aggregated *_count column")
            small_row = f"(coalesce({quote_ident(rule['base_count'])}, 0) < {threshold})"
            for c in public:
                q = quote_ident(c)
                if c in counts:
                    select.append(
                        f"case when {small_row} or {q} between 1 and {threshold - 1} then null "
                        f"else cast(floor({q} / {base} + 0.5) * {base} as bigint) end as {q}"
                    )
                elif cols[c] == "aggregated":  # a median or a rate over a small cell says as much as the count
                    select.append(f"case when {small_row} then null else {q} end as {q}")
                else:
                    select.append(q)
            select.append(f"{small_row} as small_cell_suppressed")
        else:
            select = [quote_ident(c) for c in public]
        sql = f"select {', '.join(select)} from main.{quote_ident(table)}"
        views.append(PublicView(table, sql, tuple(public), counts, rule))
    return views


def create(con, views: list[PublicView], policy: PiiPolicy | None = None) -> None:
    """Create the views in the published file's connection, then check what they show: no
    timestamp column, and every count 0 or a multiple of the rounding base at least the threshold."""
    policy = policy or load_policy()
    schema = quote_ident(policy.public_views["schema"])
    cells = policy.public_views["small_cells"]
    threshold, base = int(cells["threshold"]), int(cells.get("rounding_base", 5))
    con.execute(f"create schema if not exists {schema}")
    for view in views:
        relation = f"{schema}.{quote_ident(view.name)}"
        con.execute(f"create or replace view {relation} as {view.sql}")
        stamped = [name for name, kind, *_ in con.execute(f"describe {relation}").fetchall() if kind.startswith(_TIMESTAMP_TYPES)]
        if stamped:
            raise PublicViewError(
                f"public view {view.name}: timestamp column(s) {', '.join(stamped)} would date one person's actions"
            )
        if not view.counts:
            continue
        bad = " or ".join(
            f"({quote_ident(c)} <> 0 and ({quote_ident(c)} < {threshold} or {quote_ident(c)} % {base} <> 0))" for c in view.counts
        )
        leaks = con.execute(f"select count(*) from {relation} where {bad}").fetchone()[0]
        if leaks:
            raise PublicViewError(
                f"public view {view.name}: {leaks} row(s) show a count under {threshold} or not rounded to {base}"
            )
