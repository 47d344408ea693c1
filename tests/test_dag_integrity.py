"""Every DAG file imports, and every DuckDB writer runs in the one-slot pool."""

import os
import shutil
import time

import pytest

from zlv_dwh import dbt_project, dbt_rendering, ingest_files, ingest_postgres
from zlv_dwh.dag_defaults import RAW_ASSETS
from zlv_dwh.settings import DBT_PROJECT_DIR, DUCKDB_POOL, REPO_ROOT

EXPECTED_DAGS = {
    "zlv_ingest_production",
    "zlv_ingest_locomvac",
    "zlv_ingest_ff",
    "zlv_refresh_referentials",
    "zlv_transform",
    "zlv_purge_publication",
}


@pytest.fixture(scope="session")
def dagbag(dbt_manifest, tmp_path_factory):
    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home")))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    started = time.monotonic()
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    bag.fill_seconds = time.monotonic() - started
    return bag


def test_every_dag_file_imports(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == EXPECTED_DAGS


def test_every_dag_is_documented_owned_and_not_catching_up(dagbag):
    for dag in dagbag.dags.values():
        assert dag.doc_md and len(dag.doc_md) > 200, dag.dag_id
        assert "Usually takes" in dag.doc_md and "On failure" in dag.doc_md, dag.dag_id
        assert dag.catchup is False and dag.max_active_runs == 1, dag.dag_id
        assert {t.owner for t in dag.tasks} == {"zlv-data"}, dag.dag_id
        assert dag.timezone.name == "Europe/Paris" and "zlv" in dag.tags, dag.dag_id
        assert all(t.on_failure_callback for t in dag.tasks), f"{dag.dag_id}: a task without the failure alert"


def test_the_transform_runs_on_any_raw_asset_and_daily_as_a_safety_net(dagbag):
    schedule = dagbag.dags["zlv_transform"].timetable
    assert type(schedule).__name__ == "AssetOrTimeSchedule" and type(schedule.asset_condition).__name__ == "AssetAny"
    assert {a.name for a in schedule.asset_condition.objects} == set(RAW_ASSETS.values())
    assert schedule.timetable.expression == "0 6 * * *" and "Europe/Paris" in str(schedule.timetable.timezone)


def test_one_load_task_per_declared_production_table(dagbag):
    dag = dagbag.dags["zlv_ingest_production"]
    loads = {t.task_id for t in dag.tasks if t.task_id.startswith("load_")}
    assert loads == {f"load_{t}" for t in ingest_postgres.load_config().tables}
    for table in ingest_postgres.load_config().tables:
        assert table in dag.doc_md


def test_one_dag_per_file_family_with_one_mapped_load_per_object(dagbag):
    for family in ingest_files.load_config().families:
        dag = dagbag.dags[f"zlv_ingest_{family}"]
        assert {t.task_id for t in dag.tasks} == {"list_objects", "load_object", "finish"}
        load, finish = dag.get_task("load_object"), dag.get_task("finish")
        assert type(load).__name__.endswith("MappedOperator") and load.upstream_task_ids == {"list_objects"}
        assert finish.upstream_task_ids == {"list_objects", "load_object"} and finish.retries == 0
        assert finish.trigger_rule == "all_done" and [a.name for a in finish.outlets] == [RAW_ASSETS[family]]


def test_every_duckdb_writer_uses_the_one_slot_pool(dagbag):
    writers = []
    for dag in dagbag.dags.values():
        for t in dag.tasks:
            if t.task_id.startswith("load_") or t.task_id in (
                f"dbt.{dbt_rendering.PRODUCER_TASK}",
                "rgpd_audit",
                "publish",
                "purge_publication",
                "finish",
                "source_freshness",
                "dbt_docs",
            ):
                writers.append(t)
                assert t.pool == DUCKDB_POOL, f"{dag.dag_id}.{t.task_id} runs in pool {t.pool}"
    assert len(writers) > 10


def test_dbt_node_tasks_only_report_the_one_build_and_never_run_dbt_themselves(dagbag):
    # The node tasks are sensors of the producer's results: outside the pool (they do not write),
    # after the build whatever its outcome, and without Cosmos's fallback dbt run.
    dag = dagbag.dags["zlv_transform"]
    producer = dag.get_task(f"dbt.{dbt_rendering.PRODUCER_TASK}")
    nodes = [t for t in dag.tasks if t.task_id.startswith("dbt.") and hasattr(t, "poke")]
    assert len(nodes) > 20
    for t in nodes:
        assert t.poke_retry_number == 1 and t.deferrable is False and t.timeout <= 300, t.task_id
        assert producer.task_id in t.get_flat_relative_ids(upstream=True), t.task_id
    roots = [t for t in nodes if producer.task_id in t.upstream_task_ids]
    assert roots and all(t.trigger_rule == "all_done" for t in roots)
    # only the short-circuit guard comes before the build: when it skips, it skips every task
    # directly (node tasks included, whatever their trigger rule), so none waits for a build
    guard = dag.get_task("sources_ready")
    assert producer.upstream_task_ids == {"sources_ready"} and guard.ignore_downstream_trigger_rules is True
    assert guard.retries == 0 and {"source_freshness", producer.task_id} <= guard.downstream_task_ids
    assert type(producer).execute is not dbt_rendering.DbtProducerWatcherOperator.execute  # the raw audit runs first


def test_each_dbt_model_is_its_own_task_with_its_tests_after_it(dagbag, dbt_manifest):
    manifest = dbt_manifest
    dag = dagbag.dags["zlv_transform"]
    task_ids = set(dag.task_ids)
    models = [n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) >= 10
    for model in models:
        assert f"dbt.{model}.run" in task_ids, model
    tested = [n for n in models if f"dbt.{n}.test" in task_ids]
    assert tested, "no model has a test task"
    for model in tested:
        assert f"dbt.{model}.run" in dag.get_task(f"dbt.{model}.test").upstream_task_ids


def test_publish_runs_only_after_the_audit_and_the_drift_gate_which_run_after_every_model(dagbag):
    dag = dagbag.dags["zlv_transform"]
    assert dag.get_task("publish").upstream_task_ids == {"indicator_drift_gate"}
    assert dag.get_task("indicator_drift_gate").upstream_task_ids == {"rgpd_audit"}
    assert dag.get_task("indicator_drift_gate").retries == 0 and dag.params["approve_indicator_drift"] is False
    upstream_of_audit = dag.get_task("rgpd_audit").get_flat_relative_ids(upstream=True)
    assert {t for t in dag.task_ids if t.startswith("dbt.")} <= upstream_of_audit
    assert dag.get_task("rgpd_audit").retries == 0


def test_dag_files_parse_fast(dagbag):
    # Scheduler parses these files constantly; the manifest load keeps it cheap. Printed, not timed.
    print(f"\nDagBag fill: {dagbag.fill_seconds:.2f}s for {len(dagbag.dags)} DAGs")
    assert dagbag.dagbag_stats, "DagBag recorded no parse stats"


def test_a_manifest_older_than_the_project_is_refused(tmp_path):
    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    manifest = project / "target" / "manifest.json"
    with pytest.raises(dbt_project.StaleManifestError, match="is missing: build it with `make manifest`"):
        dbt_project.check(project, manifest)
    dbt_project.build(project, env={"ZLV_WAREHOUSE_PATH": str(tmp_path / "wh.duckdb")})
    dbt_project.check(project, manifest)
    model = project / "models" / "marts" / "housing_geo.sql"
    model.write_text(model.read_text() + "\n-- edited after the manifest was built\n")
    with pytest.raises(dbt_project.StaleManifestError, match="is stale: the dbt project .* changed since it was built"):
        dbt_project.check(project, manifest)
    dbt_project.build(project, env={"ZLV_WAREHOUSE_PATH": str(tmp_path / "wh.duckdb")})
    dbt_project.check(project, manifest)


def test_a_partial_rendering_waits_only_for_the_tests_its_build_runs(dagbag, dbt_manifest, monkeypatch):
    # ZLV_DBT_SELECT: the build leaves out tests reaching an unselected model (cautious), so the
    # model test tasks must not wait for them.
    monkeypatch.setenv("ZLV_DBT_SELECT", "+vacancy_by_territory")
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "transform.py")).dags["zlv_transform"]
    producer = dag.get_task(f"dbt.{dbt_rendering.PRODUCER_TASK}")
    assert producer.indirect_selection == "cautious"
    rendered = {t.split(".")[1] for t in dag.task_ids if t.startswith("dbt.") and t.endswith((".run", ".seed"))}
    awaited = {t for tests in producer.tests_per_model.values() for t in tests}
    assert awaited
    for test_id in awaited:
        parents = [p for p in dbt_manifest["nodes"][test_id]["depends_on"]["nodes"] if p.startswith(("model.", "seed."))]
        assert all(p.split(".")[-1] in rendered for p in parents), (test_id, parents)
    reaching_out = [
        n
        for n in dbt_manifest["nodes"].values()
        if n["resource_type"] == "test"
        and any(p.split(".")[-1] in rendered for p in n["depends_on"]["nodes"])
        and not all(p.split(".")[-1] in rendered for p in n["depends_on"]["nodes"] if p.startswith(("model.", "seed.")))
    ]
    assert reaching_out and not {n["unique_id"] for n in reaching_out} & awaited


def test_the_producer_reports_each_node_once_it_finishes(dagbag):
    # Cosmos's producer pushed an XCom per node per event (start, compile, execute, end), tests
    # included: twice a plain dbt build. Ours parses only what node tasks read (bench/README.md).
    producer = dagbag.dags["zlv_transform"].get_task(f"dbt.{dbt_rendering.PRODUCER_TASK}")
    assert isinstance(producer, dbt_rendering.ReportingProducer)
    assert {"NodeFinished", "SkippingDetails", "LogSkipBecauseError"} <= dbt_rendering.REPORTED_EVENTS
    assert not {"NodeStart", "NodeCompiling", "NodeExecuting", "SQLQuery"} & dbt_rendering.REPORTED_EVENTS
