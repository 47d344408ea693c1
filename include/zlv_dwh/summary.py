"""The short report printed at the end of `make demo`: what was loaded, built, audited, published."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import duckdb

from zlv_dwh.settings import Paths
from zlv_dwh.warehouse import connect, quote_ident


def collect(paths: Paths, con=None) -> dict:
    """Figures from the warehouse and the published file (both opened read-only, unless the
    caller already holds a warehouse connection `con`)."""
    out: dict = {"loads": [], "marts": {}, "audit": None, "published": str(paths.published_marts)}
    with nullcontext(con) if con is not None else connect(paths.warehouse, read_only=True) as con:
        out["loads"] = con.execute(
            """
            with latest as (
                select *, row_number() over (partition by source, table_name, coalesce(object_key, '')
                                             order by finished_at desc) as rn
                from ops.load_log
            )
            select source, table_name, sum(rows_loaded) as rows, count(object_key) as files,
                   string_agg(distinct status, ',') as status, any_value(mode) as mode,
                   sum(rows_inserted) as inserted, sum(rows_updated) as updated, sum(rows_deleted) as deleted
            from latest where rn = 1 group by source, table_name order by source, table_name
            """
        ).fetchall()
        row = con.execute(
            "select run_id, status, detail from ops.rgpd_audit where check_name = 'verdict' order by audited_at desc limit 1"
        ).fetchone()
        out["audit"] = {"run_id": row[0], "verdict": row[1], "detail": row[2]} if row else None
    if Path(paths.published_marts).exists():  # a DuckDB file on either backend
        with duckdb.connect(str(paths.published_marts), read_only=True) as pub:
            names = [
                r[0]
                for r in pub.execute(
                    "select table_name from information_schema.tables where table_schema = 'main' order by 1"
                ).fetchall()
            ]
            out["marts"] = {
                n: pub.execute(f"select count(*) from {quote_ident(n)}").fetchone()[0] for n in names if not n.startswith("_")
            }
    return out


def render(figures: dict) -> str:
    lines = ["Rows loaded per source table (last load):"]
    for source, table, rows, files, status, mode, inserted, updated, deleted in figures["loads"]:
        detail = f" from {files} file(s)" if files else f", {mode}: +{inserted or 0} ~{updated or 0} -{deleted or 0}"
        lines.append(f"  {source:<11} {table:<20} {rows or 0:>8} rows{detail}  [{status}]")
    lines.append("Marts published, with row counts:")
    lines += [f"  {name:<28} {rows:>8} rows" for name, rows in figures["marts"].items()] or ["  (none)"]
    audit = figures["audit"]
    lines.append(f"{audit['detail']} (run {audit['run_id']})" if audit else "RGPD audit: not run")
    lines.append(f"Published marts file (open it read-only, e.g. from Metabase's DuckDB driver):\n  {figures['published']}")
    return "\n".join(lines)
