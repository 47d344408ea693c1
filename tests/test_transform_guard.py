"""The safety-net run of zlv_transform on a fresh deployment or with nothing new: skipped, not red."""

import datetime as dt

import duckdb

from zlv_dwh import airflow_tasks, load_log
from zlv_dwh.settings import Paths


def _loaded(paths, *sources, at=None):
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(paths.warehouse)) as con:
        load_log.ensure(con)
        for source in sources:
            record = load_log.LoadRecord(run_id="r", source=source, table_name="t", mode="full")
            load_log.write(con, record, "success")
        if at is not None:
            con.execute("update ops.load_log set finished_at = ?", [at])


def _published(paths, at):
    paths.published_marts.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(paths.published_marts)) as con:
        con.execute("create table _publication as select 'r' as run_id, cast(? as timestamp) as published_at", [at])


def test_the_scheduled_run_is_skipped_until_every_source_has_loaded_then_builds(tmp_path, monkeypatch):
    monkeypatch.setenv("ZLV_DATA_DIR", str(tmp_path / "data"))
    paths = Paths.from_env()
    needed, why = airflow_tasks.transform_needed("scheduled")
    assert not needed and why.startswith("skipped: no source loaded yet")
    _loaded(paths, "production", "locomvac")
    needed, why = airflow_tasks.transform_needed("scheduled")
    assert not needed and "ff never loaded" in why and "zlv_ingest_ff" in why
    _loaded(paths, "ff")
    assert airflow_tasks.transform_needed("scheduled")[0] is True  # never published: build


def test_nothing_new_since_the_last_publication_skips_only_the_scheduled_run(tmp_path, monkeypatch):
    monkeypatch.setenv("ZLV_DATA_DIR", str(tmp_path / "data"))
    paths = Paths.from_env()
    loaded_at = dt.datetime(2026, 12, 1, 2, 0)
    _loaded(paths, "production", "locomvac", "ff", at=loaded_at)
    _published(paths, loaded_at + dt.timedelta(hours=4))
    needed, why = airflow_tasks.transform_needed("scheduled")
    assert not needed and why == "skipped: nothing new since the last publication (2026-12-01 06:00 UTC)"
    assert airflow_tasks.transform_needed("manual")[0] and airflow_tasks.transform_needed("asset_triggered")[0]
    with duckdb.connect(str(paths.published_marts)) as con:
        con.execute("update _publication set published_at = ?", [loaded_at - dt.timedelta(hours=1)])
    assert airflow_tasks.transform_needed("scheduled")[0] is True  # a load since: build
