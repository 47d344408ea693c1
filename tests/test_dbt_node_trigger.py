"""The node tasks' trigger: the verdict from the build's results, as the triggerer runs it (the
real-scheduler path is exercised by tests/test_airflow_scheduler.py and measured by
bench/bench_transform_scheduler.py)."""

import asyncio

from airflow.triggers.base import TaskFailedEvent, TaskSuccessEvent

from zlv_dwh.dbt_node_trigger import NODE_RESULTS_KEY, DbtNodeResultTrigger, verdict

RESULTS = {
    "model.zlv.a": {"status": "success", "message": "OK"},
    "test.zlv.not_null_a": {"status": "pass", "message": ""},
    "test.zlv.unique_a": {"status": "warn", "message": "Got 1 result"},
    "model.zlv.b": {"status": "error", "message": "Runtime Error in model b"},
    "model.zlv.c": {"status": "skipped", "message": ""},
    "test.zlv.failing": {"status": "fail", "message": "Got 3 results"},
}


def test_the_verdict_follows_each_node_of_the_task():
    assert verdict(["model.zlv.a"], RESULTS)[0] is True
    assert verdict(["test.zlv.not_null_a", "test.zlv.unique_a"], RESULTS)[0] is True  # warn passes
    passed, what = verdict(["model.zlv.b"], RESULTS)
    assert not passed and "Runtime Error in model b" in what
    assert verdict(["model.zlv.c"], RESULTS)[0] is False  # skipped by dbt: an upstream node failed
    assert verdict(["test.zlv.not_null_a", "test.zlv.failing"], RESULTS)[0] is False
    passed, what = verdict(["model.zlv.never"], RESULTS)
    assert not passed and "not run by the build" in what
    passed, what = verdict(["model.zlv.a"], None)
    assert not passed and "read the producer task's log" in what
    assert verdict([], RESULTS)[0] is True  # a model whose tests were all left out of the selection


class _TaskInstance:
    """What the triggerer hands the trigger (a runtime task instance): its ids."""

    task_id, dag_id, run_id = "dbt.a.run", "zlv_transform", "manual__1"


class _XCom:
    """The XCom reads the triggerer answers, stubbed: the producer's value, after a few errors."""

    def __init__(self, results, failures=0):
        self.results, self.failures, self.calls = results, failures, []

    def get_one(self, **address):
        self.calls.append(address)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("api server restarting")
        return self.results


def _events(trigger):
    async def collect():
        return [event async for event in trigger.run()]

    return asyncio.run(collect())


def test_the_trigger_ends_the_task_from_the_producers_xcom_and_survives_a_transient_error(monkeypatch):
    import airflow.sdk.execution_time.xcom as xcom

    stub = _XCom(RESULTS, failures=2)
    monkeypatch.setattr(xcom, "XCom", stub)
    trigger = DbtNodeResultTrigger(["model.zlv.a"], "dbt.dbt_producer_watcher", poke_interval=0)
    trigger.task_instance = _TaskInstance()
    events = _events(trigger)
    assert [type(e) for e in events] == [TaskSuccessEvent]
    assert stub.calls[-1] == {
        "key": NODE_RESULTS_KEY,
        "dag_id": "zlv_transform",
        "task_id": "dbt.dbt_producer_watcher",
        "run_id": "manual__1",
        "map_index": -1,
    }
    failing = DbtNodeResultTrigger(["model.zlv.b"], "dbt.dbt_producer_watcher", poke_interval=0)
    failing.task_instance = _TaskInstance()
    assert [type(e) for e in _events(failing)] == [TaskFailedEvent]
    classpath, kwargs = failing.serialize()
    assert classpath == "zlv_dwh.dbt_node_trigger.DbtNodeResultTrigger" and type(failing)(**kwargs).node_ids == ["model.zlv.b"]
