"""The node tasks of the transform report on the triggerer, without a task process each.

Each dbt model and each model's tests keep their own Airflow task, but all they do is read the
result of the one `dbt build` (the producer task). Run as task processes, 85 of them took three
times the build on 2 cores (~1.5 CPU s of start-up each; bench/README.md). With Airflow's
`start_from_trigger`, the scheduler hands each of them straight to the triggerer: this trigger
reads the build's results (the XCom the producer pushed, NODE_RESULTS_KEY) once, and ends the task
with success or failure there (TaskSuccessEvent / TaskFailedEvent), so no worker is involved.

Under `airflow dags test` (the demo, the tests) tasks are run in process and never deferred: the
same node tasks then execute as the sensors they are."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TaskFailedEvent, TaskSuccessEvent, TriggerEvent

log = logging.getLogger(__name__)

NODE_RESULTS_KEY = "zlv_node_results"
"""XCom key of the producer: {dbt unique_id: {"status": ..., "message": ...}} for every node the
build ran (pushed once the build has ended, whatever its outcome)."""

PASSED = frozenset({"success", "pass", "warn"})
ATTEMPTS = 5  # reading the XCom through the API server: a few tries on a transient error
# The triggerer runs every node task's trigger of a run in one process: the build's results are
# read once per DAG run, not once per node task (100 reads of the same XCom took ~10 s).
# Kept a few minutes only (the node tasks of a run all read within seconds of the build): a
# producer cleared and run again in the same DAG run is read afresh.
_RESULTS_BY_RUN: dict[tuple[str, str, str], tuple[float, dict]] = {}
_RUNS_KEPT = 8
_KEPT_S = 300.0


def verdict(node_ids: list[str], results: dict[str, dict] | None) -> tuple[bool, str]:
    """(passed, what to log) for a task that stands for `node_ids` (a model, or a model's tests).
    No result for a node the build should have run means the build stopped before it."""
    if results is None:
        return False, "the dbt build left no results (it failed before running): read the producer task's log"
    if not node_ids:
        return True, "nothing of this task was selected to run"
    lines, passed = [], True
    for node in node_ids:
        result = results.get(node)
        if result is None:
            passed = False
            lines.append(f"{node}: not run by the build (an upstream node failed, or the build stopped)")
            continue
        status = str(result.get("status", "")).lower()
        if status not in PASSED:
            passed = False
        message = result.get("message") or ""
        lines.append(f"{node}: {status}" + (f" - {message}" if message else ""))
    return passed, "; ".join(lines)


class DbtNodeResultTrigger(BaseTrigger):
    """Ends a node task from the producer's results. kwargs: the dbt unique ids the task stands
    for and the producer's task id (same DAG run)."""

    def __init__(self, node_ids: list[str], producer_task_id: str, poke_interval: float = 1.0):
        super().__init__()
        self.node_ids = list(node_ids)
        self.producer_task_id = producer_task_id
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"node_ids": self.node_ids, "producer_task_id": self.producer_task_id, "poke_interval": self.poke_interval},
        )

    def _results(self) -> dict[str, dict] | None:
        # One XCom by its full address: the triggerer answers this request (GetXCom), not the
        # sequence reads that TaskInstance.xcom_pull makes (a trigger calling it waits forever).
        from airflow.sdk.execution_time.xcom import XCom

        ti = self.task_instance
        run = (ti.dag_id, ti.run_id, self.producer_task_id)
        cached = _RESULTS_BY_RUN.get(run)
        if cached is not None and time.monotonic() - cached[0] < _KEPT_S:
            return cached[1]
        value = XCom.get_one(
            key=NODE_RESULTS_KEY, dag_id=ti.dag_id, task_id=self.producer_task_id, run_id=ti.run_id, map_index=-1
        )
        if value is None:  # not cached: a build that pushes nothing is reported, not remembered
            return None
        _RESULTS_BY_RUN[run] = (time.monotonic(), value)
        while len(_RESULTS_BY_RUN) > _RUNS_KEPT:
            _RESULTS_BY_RUN.pop(next(iter(_RESULTS_BY_RUN)))
        return value

    async def run(self) -> AsyncIterator[TriggerEvent]:
        results, error = None, None
        self.log.info("reading the build's results for %s", ", ".join(self.node_ids) or "no node")
        for _ in range(ATTEMPTS):
            try:
                # A sync SDK call: the triggerer runs it on its loop (greenback portal), as it
                # documents for get_connection() / get_variable() from a trigger's run().
                results = self._results()
                error = None
                break
            except Exception as exc:  # the API server busy or restarting: try again
                error = exc
                await asyncio.sleep(self.poke_interval)
        if error is not None:
            self.log.error("could not read the build's results: %s", error)
            yield TaskFailedEvent()
            return
        passed, what = verdict(self.node_ids, results)
        (self.log.info if passed else self.log.error)("%s", what)
        yield TaskSuccessEvent() if passed else TaskFailedEvent()
