"""Airflow's real components (API server, scheduler, DAG processor, triggerer; LocalExecutor; a
throwaway PostgreSQL metadata database), driven through the REST API as the support team would.

Slow. The raw zone (production tables and national files) is loaded beforehand through the
ingestion core, so that this test is about what only a real scheduler does: a run triggered through the API, the asset event that
schedules the transform DAG, retries/callbacks in real task processes, the failure email. The
transform renders only the marts behind the headline indicators and the map (ZLV_DBT_SELECT) to
keep the run short; the whole dbt project runs in tests/test_end_to_end.py. Unpaused DAGs also
start their latest scheduled interval (catchup is off), as on a real deployment: every run of the
transform DAG, however many asset events there were, must succeed."""

import pytest

from conftest import TEST_HASH_KEY, scratch_database
from zlv_dwh import ingest_files, ingest_postgres
from zlv_dwh.demo import generate
from zlv_dwh.demo.airflow_stack import AirflowStack
from zlv_dwh.settings import REPO_ROOT

pytestmark = pytest.mark.slow
BAD_LOVAC = "lake/cerema/lovac/2026/raw.csv"
SELECT = "+vacancy_by_territory,+campaign_funnel,+establishment_activity"  # what the drift gate reads
# DAGs start paused (Airflow's default); each test unpauses what it uses, as an operator would.
PAUSED = {"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"}


@pytest.fixture(scope="module")
def airflow(pipeline_stack, pg_admin, production_dsn, demo):
    stack = pipeline_stack("scheduler", bucket="zlv-scheduler")
    access, secret = stack.s3_access_key, stack.s3_secret_key
    generate.upload_files(demo, stack.s3_url, access, secret, stack.bucket)
    # The raw zone exists before Airflow starts (as on a running deployment): unpausing the transform
    # DAG also runs its latest daily interval, which must find data to build from.
    common = {"warehouse": stack.paths.warehouse, "run_id": "preload", "extension_dir": stack.paths.extension_dir}
    ingest_postgres.ingest_all(ingest_postgres.load_config(), pg_dsn=production_dsn, key=TEST_HASH_KEY, **common)
    s3 = ingest_files.S3Settings(stack.s3_url, access, secret)
    ingest_files.ingest_all(ingest_files.load_config(), s3=s3, bucket=stack.bucket, hash_key=TEST_HASH_KEY, **common)
    with scratch_database(pg_admin, "zlv_airflow_meta") as url:
        airflow = AirflowStack(
            stack, url.replace("postgresql://", "postgresql+psycopg2://", 1), extra_env={"ZLV_DBT_SELECT": SELECT, **PAUSED}
        )
        airflow.prepare()
        airflow.start()
        try:
            airflow.wait_ready({"zlv_ingest_production", "zlv_ingest_locomvac", "zlv_ingest_ff", "zlv_transform"})
            yield airflow
        finally:
            processes = list(airflow.processes.values())
            airflow.stop()
            assert all(p.poll() is not None for p in processes)  # clean shutdown, nothing left running


def test_a_run_triggered_through_the_api_loads_production_then_the_asset_event_runs_the_transform(airflow):
    airflow.unpause("zlv_transform")
    airflow.unpause("zlv_ingest_production")  # also starts its latest scheduled interval (catchup is off)
    run_id = airflow.trigger("zlv_ingest_production")
    ingest = airflow.wait_run("zlv_ingest_production", run_id, timeout_s=600)
    assert ingest["state"] == "success", airflow.log_tail("scheduler")
    runs = airflow.wait_idle("zlv_transform", queued_after=ingest["end_date"], timeout_s=900)
    assert "asset_triggered" in {r["run_type"] for r in runs} and {r["run_type"] for r in runs} <= {
        "asset_triggered",
        "scheduled",
    }
    assert [r["state"] for r in runs] == ["success"] * len(runs), airflow.log_tail("scheduler")
    # The manual load's asset event queued a run after the load ended (the unpaused DAG's own
    # scheduled interval may be queued before or after it: the scheduler decides).
    transform = max((r for r in runs if r["run_type"] == "asset_triggered"), key=lambda r: r["queued_at"])
    assert transform["queued_at"] > ingest["end_date"]
    tasks = airflow.api("GET", f"/api/v2/dags/zlv_transform/dagRuns/{transform['dag_run_id']}/taskInstances?limit=100")
    states = {t["task_id"]: t["state"] for t in tasks["task_instances"]}
    assert states["publish"] == "success" and states["rgpd_audit"] == "success"
    assert "dbt.vacancy_by_territory.run" in states
    assert airflow.stack.paths.published_marts.exists()


def test_a_failing_task_sends_the_alert_email(airflow, smtp_server, demo):
    client = ingest_files.s3_client(
        ingest_files.S3Settings(airflow.stack.s3_url, airflow.stack.s3_access_key, airflow.stack.s3_secret_key)
    )
    airflow.unpause("zlv_ingest_locomvac")  # its latest scheduled interval runs first: the files are fine
    assert airflow.wait_idle("zlv_ingest_locomvac", timeout_s=300)[0]["state"] == "success"
    client.put_object(Bucket=airflow.stack.bucket, Key=BAD_LOVAC, Body=b"not;the;contract\n1;2;3\n")
    run_id = airflow.trigger("zlv_ingest_locomvac")
    failed = airflow.wait_run("zlv_ingest_locomvac", run_id, timeout_s=600)
    assert failed["state"] == "failed"
    alert = smtp_server.wait_for(lambda m: "zlv_ingest_locomvac.finish failed" in m["subject"], timeout_s=60)[-1]
    body = alert.get_body().get_content()
    assert "lovac/2026/raw.csv" in body and "quarantined" in body
    assert airflow.url in body  # the link to the task log, on the API server


def test_no_secret_in_the_real_task_logs(airflow, fault):
    # The log files Airflow's task processes wrote (what the UI shows), and the components' own
    # logs, grepped for the test secrets by the fault ledger when this test ends.
    fault.inject("secrets handed to real task processes (task log files)")
    task_logs = list((airflow.stack.state_dir / "airflow" / "logs").rglob("*.log"))
    assert len(task_logs) > 20, task_logs
    fault.watch(airflow.stack.state_dir / "airflow" / "logs", airflow.stack.state_dir / "logs")


def test_the_ui_and_api_listen_on_loopback_only(airflow):
    """`make airflow` prints a 127.0.0.1 address: nothing else of this machine answers on that port."""
    import socket

    assert airflow.api("GET", "/api/v2/monitor/health")  # reachable on loopback
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    addresses |= {a for a in _interface_addresses() if not a.startswith("127.")}
    outside = sorted(a for a in addresses if not a.startswith("127."))
    if not outside:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    for address in outside:
        with socket.socket() as probe:
            probe.settimeout(2)
            assert probe.connect_ex((address, airflow.port)) != 0, f"the API answers on {address}:{airflow.port}"


def _interface_addresses() -> set[str]:
    import subprocess

    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout
    return {a for a in out.split() if "." in a}


def _guide_block(after: str) -> str:
    """The first ```bash block of docs/OPERATIONS.md after the sentence `after`."""
    text = (REPO_ROOT / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")
    start = text.index("```bash\n", text.index(after)) + len("```bash\n")
    return text[start : text.index("```", start)]


def test_the_guides_rest_commands_run_as_written_against_make_airflows_stack(airflow, tmp_path):
    """The support team's block, untouched: source the env file make airflow writes, get a token,
    trigger a source, wait for it, list its tasks, read a task's log through the API."""
    import subprocess

    airflow.unpause("zlv_ingest_production")
    airflow.write_env_file()
    workdir = tmp_path / "support"
    workdir.mkdir()
    (workdir / ".state").symlink_to(airflow.stack.state_dir)  # the guide's relative path, as from the repo
    assert airflow.env_file == airflow.stack.state_dir / "airflow" / "env" and oct(airflow.env_file.stat().st_mode)[-3:] == "600"
    block = _guide_block("Through the REST API, with a UI login")
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", block], cwd=workdir, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "NO TOKEN" not in done.stderr and "state success" in out, out[-2000:]
    assert "load_owners success" in out and "load_events success" in out
    assert "raw_production.owners" in out and "checked read-only" in out  # load_owners' log lines, as text
    assert airflow.password() not in out + done.stderr


def test_a_wrong_password_says_so_instead_of_a_silent_empty_token(airflow, tmp_path):
    import subprocess

    workdir = tmp_path / "wrong"
    (workdir / ".state" / "airflow").mkdir(parents=True)
    (workdir / ".state" / "airflow" / "env").write_text(
        f"ZLV_AIRFLOW_URL={airflow.url}\nZLV_AIRFLOW_USER=support\nZLV_AIRFLOW_PASSWORD=not-the-password\n"
    )
    first_step = _guide_block("Through the REST API, with a UI login").split("AUTH=")[0]
    done = subprocess.run(["bash", "-c", first_step], cwd=workdir, capture_output=True, text=True, timeout=60)
    assert "NO TOKEN: is Airflow up at" in done.stderr


def test_the_dbt_docs_answer_only_a_logged_in_user(airflow):
    """The docs describe the whole warehouse: anonymous requests are refused, Cosmos's open view is off."""
    import urllib.error
    import urllib.request

    for path in ("/zlv/dbt_docs/static_index.html", "/zlv/dbt_docs/manifest.json", "/zlv/dbt_docs/catalog.json"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{airflow.url}{path}", timeout=10)
        assert refused.value.code == 401, path
    with pytest.raises(urllib.error.HTTPError) as cosmos:
        urllib.request.urlopen(f"{airflow.url}/cosmos/zlv/dbt_docs_index.html", timeout=10)
    assert cosmos.value.code == 404
    request = urllib.request.Request(
        f"{airflow.url}/zlv/dbt_docs/manifest.json", headers={"Authorization": f"Bearer {airflow.token()}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200 and b"nodes" in response.read(200_000)
    except urllib.error.HTTPError as exc:  # before the first transform run: not generated yet
        assert exc.code == 404 and b"not generated yet" in exc.read()
