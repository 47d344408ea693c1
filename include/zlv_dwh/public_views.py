"""The `public` views of the published file: no pseudonymised column, small cells suppressed.

Built from the one PII policy (include/config/pii.yml, `public_views`) and each column's
`meta.rgpd` class. Metabase's widest audience reads only these views; the marts tables beside them
stay for the data team."""

from __future__ import annotations

from dataclasses import dataclass

from zlv_dwh.pii import PiiPolicy, load_policy
from zlv_dwh.warehouse import quote_ident

PUBLIC_CLASSES = ("none", "aggregated")


class PublicViewError(RuntimeError):
    """A public view would expose a non-public column or a small cell."""


@dataclass(frozen=True)
class PublicView:
    name: str
    sql: str  # runs inside the published file (tables in `main`)
    columns: tuple[str, ...]
    counts: tuple[str, ...]  # aggregated counts (`*_count`): the cells the small-cell rule is about
    small_cells: dict | None


def definitions(
    classes: dict[str, dict[str, str | None]], tables: list[str], policy: PiiPolicy | None = None
) -> list[PublicView]:
    """One view per published mart not excluded: public columns only, small cells suppressed."""
    policy = policy or load_policy()
    config = policy.public_views
    threshold = int(config["small_cells"]["threshold"])
    views = []
    for table in sorted(tables):
        if table in config.get("exclude", []) or table.startswith("_"):
            continue
        cols = classes.get(table, {})
        public = [c for c, cls in cols.items() if cls in PUBLIC_CLASSES]
        if not public:
            continue
        counts = tuple(c for c in public if cols[c] == "aggregated" and c.endswith("_count"))
        rule = config["small_cells"]["marts"].get(table)
        select = []
        if rule:
            finest = f"({rule['where']})" if rule.get("where") else "true"
            small_row = f"({finest} and coalesce({quote_ident(rule['base_count'])}, 0) < {threshold})"
            for c in public:
                q = quote_ident(c)
                if c in counts:
                    select.append(f"case when {small_row} or ({finest} and {q} < {threshold}) then null else {q} end as {q}")
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
    """Create the views in the published file's connection, then check them: public classes only,
    no count under the threshold left on a finest-level row."""
    policy = policy or load_policy()
    schema = quote_ident(policy.public_views["schema"])
    threshold = int(policy.public_views["small_cells"]["threshold"])
    con.execute(f"create schema if not exists {schema}")
    for view in views:
        con.execute(f"create or replace view {schema}.{quote_ident(view.name)} as {view.sql}")
        if not view.small_cells:
            continue
        where = view.small_cells.get("where") or "true"
        leaks = (
            con.execute(
                f"select count(*) from {schema}.{quote_ident(view.name)} where ({where}) and ("
                + " or ".join(f"{quote_ident(c)} < {threshold}" for c in view.counts)
                + ")"
            ).fetchone()[0]
            if view.counts
            else 0
        )
        if leaks:
            raise PublicViewError(f"public view {view.name}: {leaks} row(s) still show a count under {threshold}")
