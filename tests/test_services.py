"""The demo's service start-up on a machine without a running PostgreSQL."""

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from zlv_dwh.demo import services


def test_missing_server_binaries_stop_with_the_install_command(monkeypatch, tmp_path):
    monkeypatch.delenv("ZLV_DEMO_PG_URL", raising=False)
    monkeypatch.setattr(services, "_can_connect", lambda url: False)
    monkeypatch.setattr(services, "_pg_bin", lambda name: None)
    with pytest.raises(services.PrerequisiteMissing, match="apt-get install -y postgresql"):
        services.start_postgres(tmp_path, say=lambda m: None)


def test_unreachable_given_url_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("ZLV_DEMO_PG_URL", "postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(services.PrerequisiteMissing, match="ZLV_DEMO_PG_URL"):
        services.start_postgres(tmp_path, say=lambda m: None)


@pytest.mark.skipif(services._pg_bin("initdb") is None, reason="no PostgreSQL server binaries here")
def test_a_throwaway_cluster_starts_answers_and_stops(monkeypatch):
    monkeypatch.delenv("ZLV_DEMO_PG_URL", raising=False)
    real_can_connect = services._can_connect
    monkeypatch.setattr(services, "_can_connect", lambda url: ":5432/" not in url and real_can_connect(url))
    state = Path(tempfile.mkdtemp(prefix="zlv-pg-"))
    try:
        service = services.start_postgres(state, say=lambda m: None)
        try:
            assert service.started_here and ":5432/" not in service.url
            with psycopg.connect(service.url) as con:
                assert con.execute("select 1").fetchone() == (1,)
        finally:
            service.stop()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(service.url, connect_timeout=2)
    finally:
        shutil.rmtree(services.throwaway_pgdata(state), ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


def test_postgis_is_available_in_the_server_the_tests_use(pg_admin):
    services.ensure_postgis(pg_admin, say=lambda m: None)  # installed by the test command itself when missing
    with psycopg.connect(pg_admin) as con:
        assert con.execute("select count(*) from pg_available_extensions where name = 'postgis'").fetchone() == (1,)


def test_missing_postgis_stops_with_the_exact_install_command_when_it_cannot_install(monkeypatch, pg_admin):
    monkeypatch.setattr(services, "_postgis_available", lambda url: False)
    monkeypatch.setattr(services.os, "geteuid", lambda: 1000)  # not root: no apt-get from here
    with psycopg.connect(pg_admin) as con:
        major = con.info.server_version // 10000
    with pytest.raises(
        services.PrerequisiteMissing, match=rf"sudo apt-get update && apt-get install -y postgresql-{major}-postgis-3"
    ):
        services.ensure_postgis(pg_admin, say=lambda m: None)


def test_the_local_mailbox_of_make_airflow_keeps_each_alert_as_a_file(tmp_path, monkeypatch):
    """make airflow's alert catcher: the alert Airflow sends through zlv_smtp lands as an .eml file."""
    import email
    import email.policy
    import types

    from zlv_dwh import airflow_tasks
    from zlv_dwh.demo import services

    mailbox = services.start_mailbox(tmp_path / "mailbox", say=lambda _: None)
    try:
        port = int(mailbox.url.rsplit(":", 1)[1])
        monkeypatch.setenv(
            "AIRFLOW_CONN_ZLV_SMTP",
            f'{{"conn_type": "smtp", "host": "127.0.0.1", "port": {port}, '
            '"extra": {"from_email": "airflow@zlv.localhost", "disable_tls": true, "disable_ssl": true}}',
        )
        monkeypatch.setenv("ZLV_ALERT_RECIPIENTS", "support@zlv.localhost")
        ti = types.SimpleNamespace(dag_id="zlv_ingest_ff", task_id="finish", run_id="r-9", try_number=1, log_url=None)
        airflow_tasks.notify_failure({"ti": ti, "exception": RuntimeError("boom")})
        [saved] = list((tmp_path / "mailbox").glob("*.eml"))
        message = email.message_from_bytes(saved.read_bytes(), policy=email.policy.default)
        assert (
            message["subject"].startswith("[ZLV] zlv_ingest_ff.finish failed") and "NEXT STEP" in message.get_body().get_content()
        )
    finally:
        mailbox.stop()
