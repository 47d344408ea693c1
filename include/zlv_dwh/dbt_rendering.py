"""Cosmos rendering of the dbt project, built in one place so every DAG renders it the same way.

The project is loaded from a manifest built ahead (`make manifest`, `dbt parse`) and checked against
the project files (zlv_dwh.dbt_project): DAG files then parse in about a second with no database.

Cosmos's watcher mode: one `dbt build` (in-process, dbtRunner) does the work in a single task that
holds the one-slot DuckDB pool, and each model and each model's tests keep their own Airflow task,
which reports that node's result from the build's events. Run task by task (one dbt invocation per
model and per test task), the same project cost about nine times a plain `dbt build` (bench/README.md):
per-invocation start-up, not dbt's work, dominated. The build's task is our ReportingProducer, which
reports each node once, when it finishes, instead of at every dbt event (2x -> 1.24x a plain build)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.triggers.base import StartTriggerArgs
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos import settings as cosmos_settings
from cosmos.constants import (
    PRODUCER_WATCHER_TASK_ID,
    ExecutionMode,
    InvocationMode,
    LoadMode,
    TestBehavior,
    TestIndirectSelection,
)
from cosmos.operators._watcher.base import _DBT_ERROR_EVENTS_TYPES
from cosmos.operators._watcher.state import DBT_UPSTREAM_FAILURE_SKIP_EVENT_NAMES
from cosmos.operators.local import DbtLocalBaseOperator
from cosmos.operators.watcher import DbtProducerWatcherOperator, _StdoutFilter

from zlv_dwh import dbt_project
from zlv_dwh.dbt_node_trigger import NODE_RESULTS_KEY, DbtNodeResultTrigger
from zlv_dwh.settings import DBT_MANIFEST, DBT_PROJECT_DIR, DUCKDB_POOL, Paths, warehouse_backend


def project_config() -> ProjectConfig:
    dbt_project.check()  # a stale manifest fails the DAG import, visibly, instead of rendering old models
    return ProjectConfig(
        dbt_project_path=DBT_PROJECT_DIR,
        manifest_path=DBT_MANIFEST,
        install_dbt_deps=False,
        env_vars=Paths.from_env().dbt_env(),
    )


def profile_config() -> ProfileConfig:
    # profiles.yml has one target per storage backend, named after it.
    return ProfileConfig(
        profile_name="zlv", target_name=warehouse_backend(), profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml"
    )


def execution_config() -> ExecutionConfig:
    return ExecutionConfig(
        execution_mode=ExecutionMode.WATCHER,
        invocation_mode=InvocationMode.DBT_RUNNER,
        # Only the producer (the one `dbt build`) writes DuckDB: it alone takes the pool. Under
        # ZLV_DBT_SELECT its build runs a test only when all the test's models are selected (a
        # relationship to an unselected model would read a table that may not exist).
        setup_operator_args={"pool": DUCKDB_POOL, "indirect_selection": TestIndirectSelection.CAUTIOUS.value},
        test_indirect_selection=TestIndirectSelection.CAUTIOUS,
        dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
    )


def render_config() -> RenderConfig:
    # ZLV_DBT_SELECT (dbt selectors, comma-separated) renders part of the project: for a quick
    # check of a real scheduler, or a team working on one mart. Unset: every model.
    select = [s.strip() for s in os.environ.get("ZLV_DBT_SELECT", "").split(",") if s.strip()]
    return RenderConfig(
        select=select,
        load_method=LoadMode.DBT_MANIFEST,
        test_behavior=TestBehavior.AFTER_EACH,
        # A test of several models (relationships) is reported by each parent's test task: the
        # build reports per model, and a detached test task would wait for a result never sent.
        should_detach_multiple_parents_tests=False,
    )


# Cosmos 1.15 offers no public hook for what follows; each is a name Cosmos does not promise to keep.
# tests/test_cosmos_touch_points.py checks every one exists and behaves as relied on, and fails
# naming the Cosmos version when an upgrade moves one (then re-read this module against it).
COSMOS_VERSION_CHECKED = "1.15.1"
COSMOS_PRIVATE_TOUCH_POINTS = (
    "cosmos.operators._watcher.base._DBT_ERROR_EVENTS_TYPES: the dbt error events the node tasks read",
    "cosmos.operators._watcher.state.DBT_UPSTREAM_FAILURE_SKIP_EVENT_NAMES: dbt's skip events",
    "cosmos.operators.watcher._StdoutFilter: dbt's JSON lines kept out of the task log",
    "DbtProducerWatcherOperator._make_parse_callable: Cosmos's own event -> XCom parser",
    "DbtProducerWatcherOperator._dbt_runner_callbacks: the dbtRunner callbacks list",
    "DbtProducerWatcherOperator.tests_per_model: the tests each model's test task waits for",
    "the producer's class set to ReportingProducer (Cosmos builds it from its own class)",
    "the watcher sensors' poke_retry_number, model_unique_id, is_test_sensor",
)
OPERATOR_ARGS = {"install_deps": False}
# Cosmos's "reliable retry" rewrites the producer's whole XCom backup (every node's status and
# compiled SQL so far) into an Airflow Variable at each of its ~700 pushes: quadratic, it doubled
# the build's time here. It only serves a retried producer, and ours is not retried (retries 0; a
# cleared producer is skipped by Cosmos): a failed build still saves the backup once, on failure.
cosmos_settings.enable_watcher_reliable_retry = False
PRODUCER_TASK = PRODUCER_WATCHER_TASK_ID
"""The task that runs the one `dbt build` (task id `<group>.dbt_producer_watcher`)."""
WATCHER_TIMEOUT_S = 120


# The dbt events whose content the node tasks read (status, error text, skips, versions). Every
# other event (SQL statements, connections, per-node start/compile/execute...) only goes to the log.
REPORTED_EVENTS = (
    frozenset({"NodeFinished", "MainReportVersion", "AdapterRegistered", *DBT_UPSTREAM_FAILURE_SKIP_EVENT_NAMES})
    | _DBT_ERROR_EVENTS_TYPES
)
_LOG_LEVELS = {"info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


class _ReadPushesOnly:
    """The task instance the build's results are pushed through, minus what no task reads: the
    dbt event of each test (a model's test task reads the model's event and its tests' aggregate)."""

    def __init__(self, ti: Any):
        self._ti = ti

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ti, name)

    def xcom_push(self, key: str, value: Any, **kwargs: Any) -> None:
        if key.startswith(("test__", "unit_test__")) and key.endswith("_dbt_event"):
            return
        self._ti.xcom_push(key, value, **kwargs)


class ReportingProducer(DbtProducerWatcherOperator):
    """Cosmos's producer (one `dbt build`) that reports each node once, when it finishes.

    Cosmos turns every dbt event of the build into JSON and pushes an XCom at each node's start,
    compilation, execution and end, tests included (a thousand pushes for this project, ~14 ms
    each under `airflow dags test`), inside dbt's callbacks: the build took twice a plain
    `dbt build` (bench/README.md). A node task reads only the last of them, and nothing reads a
    test's, so only the events above are turned into JSON and parsed (by Cosmos's own parser, which
    pushes the same keys), without the tests' events; the others are logged from their message."""

    def execute(self, context: Any, **kwargs: Any) -> Any:
        """The national referential is loaded if it never was (a fresh deployment), and the raw
        production copy is audited: dbt never reads personal data a treatment let through. Inside
        the build's task (not a task before it) so that a refusal fails the build and every node
        task reports it at once, instead of waiting for a build that never starts."""
        from zlv_dwh import airflow_tasks

        airflow_tasks.ensure_referential(context["run_id"])
        airflow_tasks.run_raw_rgpd_audit(context["run_id"])
        return super().execute(context, **kwargs)

    def run_dbt_runner(self, command: list[str], env: dict[str, str], cwd: str, **kwargs: Any) -> Any:
        context = kwargs.get("context")
        if context is None or context.get("_check_source_freshness"):
            return super().run_dbt_runner(command, env, cwd, **kwargs)
        from google.protobuf.json_format import MessageToJson

        parse = self._make_parse_callable()
        extra_kwargs = {"project_dir": cwd, "context": {**context, "ti": _ReadPushesOnly(context["ti"])}}
        errors: list[BaseException] = []

        def on_event(event: Any) -> None:
            try:
                info = event.info
                if info.name in REPORTED_EVENTS:
                    parse(MessageToJson(event, preserving_proto_field_name=True), extra_kwargs)
                elif info.level in _LOG_LEVELS and info.msg:
                    self.log.log(_LOG_LEVELS[info.level], "%s", info.msg)
            except Exception as exc:  # raised after the build: dbt would turn it into a node error
                self.log.exception("Error in dbt event callback: %s", exc)
                errors.append(exc)

        self._dbt_runner_callbacks = [*(self._dbt_runner_callbacks or []), on_event]
        with contextlib.redirect_stdout(_StdoutFilter()):  # dbt's JSON lines: the callback logs them
            result = DbtLocalBaseOperator.run_dbt_runner(self, command, env, cwd, **kwargs)
        _push_node_results(context["ti"], result)
        if errors:
            raise errors[0]
        return result


def _push_node_results(ti: Any, result: Any) -> None:
    """Every node's status and message, in one XCom, for the node tasks reporting on the
    triggerer (zlv_dwh.dbt_node_trigger). Nothing when dbt stopped before running any node."""
    executed = getattr(getattr(result, "result", None), "results", None)
    if executed is None:
        return
    results = {
        r.node.unique_id: {"status": str(getattr(r.status, "value", r.status)), "message": str(r.message or "")[:500]}
        for r in executed
    }
    ti.xcom_push(key=NODE_RESULTS_KEY, value=results)


def dbt_task_group(group_id: str = "dbt") -> DbtTaskGroup:
    """The dbt project as one task per model and per model's tests, fed by one `dbt build`."""
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=project_config(),
        profile_config=profile_config(),
        execution_config=execution_config(),
        render_config=render_config(),
        operator_args=OPERATOR_ARGS,
        default_args={"retries": 0},
    )
    _report_after_the_build(group)
    return group


def _report_after_the_build(group: DbtTaskGroup) -> None:
    """Node tasks read their result once the build has ended, instead of polling beside it.

    Inside a task group Cosmos starts the node tasks beside the build: under `airflow dags test`
    (the demo, the tests), which runs one task at a time, a node task then waits for a build that
    never starts. After the build, whatever its outcome (`all_done`), each node task finds its
    result at once; a failed model or test fails its own task and dbt has skipped what depends on
    it, which fails theirs. A node with no result after a failed build fails with the producer's
    error instead of running dbt by itself (Cosmos's fallback) outside the one-slot pool."""
    producer = group.children[f"{group.group_id}.{PRODUCER_TASK}"]
    # Cosmos builds the producer from its own class; ours only changes how dbt's events are read.
    producer.__class__ = ReportingProducer
    # A model's test task waits for the results of all its tests: leave out those the cautious
    # selection does not run (a parent outside ZLV_DBT_SELECT), or it would wait for nothing.
    graph = group.dbt_graph
    selected = set(graph.filtered_nodes)

    def runs(test_id: str) -> bool:
        parents = graph.nodes[test_id].depends_on if test_id in graph.nodes else []
        return all(p in selected for p in parents if p.split(".", 1)[0] in ("model", "seed", "snapshot"))

    producer.tests_per_model = {m: [t for t in tests if runs(t)] for m, tests in producer.tests_per_model.items()}
    nodes_tasks = [t for t in group.iter_tasks() if t is not producer and hasattr(t, "poke")]
    node_ids = {t.task_id for t in nodes_tasks}
    by_id = {t.task_id: t for t in nodes_tasks}
    for task in nodes_tasks:
        # Every node task reads the one build's results: it waits for the build only, not for the
        # node tasks of its dbt parents (layer after layer, each hand-over between the scheduler
        # and the triggerer cost ~4 s: 41.8 s for 10 layers). dbt's own order is in the build
        # (and the lineage in the dbt docs); a node whose parent failed was skipped by dbt, which
        # fails its task all the same.
        # A model's tests stay after the model (`<group>.<model>.run` -> `<group>.<model>.test`).
        same_model = task.task_id.rsplit(".", 1)[0] + "."
        for upstream in sorted(u for u in task.upstream_task_ids & node_ids if not u.startswith(same_model)):
            task.upstream_task_ids.discard(upstream)
            by_id[upstream].downstream_task_ids.discard(task.task_id)
        if not task.upstream_task_ids & node_ids:
            producer >> task
            task.trigger_rule = "all_done"
        task.deferrable = False
        task.poke_interval = 1
        task.timeout = WATCHER_TIMEOUT_S
        task.poke_retry_number = 1  # see Cosmos's _handle_no_dbt_node_status: no fallback dbt run
        # Under the scheduler the task starts and ends on the triggerer, from the build's results
        # (no task process: 85 of them took three times the build on 2 cores). `airflow dags test`
        # runs it in process as the sensor above instead.
        nodes = producer.tests_per_model.get(task.model_unique_id, []) if task.is_test_sensor else [task.model_unique_id]
        task.start_from_trigger = True
        task.start_trigger_args = StartTriggerArgs(
            trigger_cls=f"{DbtNodeResultTrigger.__module__}.{DbtNodeResultTrigger.__qualname__}",
            next_method="execute_complete",
            trigger_kwargs={"node_ids": nodes, "producer_task_id": producer.task_id},
            timeout=timedelta(seconds=WATCHER_TIMEOUT_S),
        )
