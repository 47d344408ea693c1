"""Cosmos's names our transform relies on without a public API (zlv_dwh.dbt_rendering,
COSMOS_PRIVATE_TOUCH_POINTS): each must exist and behave as relied on. When this fails after a
Cosmos upgrade, re-read dbt_rendering.py against the new Cosmos before shipping."""

import inspect
from importlib.metadata import version

from cosmos.operators.watcher import DbtProducerWatcherOperator, DbtTestWatcherOperator

from zlv_dwh import dbt_rendering


def test_the_cosmos_version_is_the_one_the_touch_points_were_checked_against():
    installed = version("astronomer-cosmos")
    assert installed == dbt_rendering.COSMOS_VERSION_CHECKED, (
        f"Cosmos {installed} is installed, the private touch points were checked against "
        f"{dbt_rendering.COSMOS_VERSION_CHECKED}: re-check " + "; ".join(dbt_rendering.COSMOS_PRIVATE_TOUCH_POINTS)
    )


def test_each_private_name_is_still_there_with_the_shape_we_use():
    from cosmos.operators._watcher.base import _DBT_ERROR_EVENTS_TYPES
    from cosmos.operators._watcher.state import DBT_UPSTREAM_FAILURE_SKIP_EVENT_NAMES
    from cosmos.operators.watcher import _StdoutFilter

    assert isinstance(_DBT_ERROR_EVENTS_TYPES, (set, frozenset)) and _DBT_ERROR_EVENTS_TYPES
    assert all(isinstance(name, str) for name in DBT_UPSTREAM_FAILURE_SKIP_EVENT_NAMES)
    assert hasattr(_StdoutFilter(), "write")
    assert callable(getattr(DbtProducerWatcherOperator, "_make_parse_callable", None))
    assert list(inspect.signature(DbtProducerWatcherOperator.run_dbt_runner).parameters)[:4] == ["self", "command", "env", "cwd"]
    assert issubclass(dbt_rendering.ReportingProducer, DbtProducerWatcherOperator)
    assert "is_test_sensor" in dir(DbtTestWatcherOperator)


def test_the_rendered_group_has_the_attributes_we_set(tmp_path, monkeypatch):
    """The transform DAG as the scheduler parses it: the producer is ours, each node task has its
    model id, test flag and the trigger arguments we give it."""
    import airflow.sdk

    captured = []
    original = airflow.sdk.DAG.__exit__

    def keep(dag, *args):
        captured.append(dag)
        return original(dag, *args)

    monkeypatch.setattr(airflow.sdk.DAG, "__exit__", keep)
    import importlib.util

    from zlv_dwh.settings import REPO_ROOT

    spec = importlib.util.spec_from_file_location("zlv_transform_dag", REPO_ROOT / "dags" / "transform.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    dag = captured[0]
    producer = dag.task_dict[f"dbt.{dbt_rendering.PRODUCER_TASK}"]
    assert type(producer) is dbt_rendering.ReportingProducer and isinstance(producer.tests_per_model, dict)
    nodes = [t for t in dag.tasks if t is not producer and t.task_id.startswith("dbt.") and hasattr(t, "poke")]
    assert len(nodes) > 50
    for task in nodes:
        assert task.model_unique_id and isinstance(task.is_test_sensor, bool) and task.poke_retry_number == 1
        assert task.start_from_trigger and task.start_trigger_args.trigger_kwargs["producer_task_id"] == producer.task_id
