"""The failure email: content, redaction, and delivery to a real SMTP server through Airflow's SMTP hook."""

import types

from zlv_dwh import airflow_tasks, alerts


def test_the_email_names_dag_task_run_first_error_lines_and_log_link_without_secrets():
    error = "IngestError: production table owners: connection refused\n" + "\n".join(f"frame {i}" for i in range(30))
    error += "\nhost=db password=S3cr3t-Value user=zlv"
    subject, body = alerts.failure_email(
        "zlv_ingest_production", "load_owners", "manual__1", 3, error, "http://airflow/log?x=1&y=2"
    )
    assert subject == "[ZLV] zlv_ingest_production.load_owners failed: IngestError: production table owners: connection refused"
    assert "attempt 3" in body and "manual__1" in body and "frame 13" in body and "frame 14" not in body
    assert "more line(s) in the log" in body and 'href="http://airflow/log?x=1&amp;y=2"' in body
    assert "S3cr3t-Value" not in subject + body


def test_notify_failure_delivers_through_the_smtp_connection(smtp_server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ZLV_SMTP", smtp_server.airflow_connection())
    monkeypatch.setenv("ZLV_ALERT_RECIPIENTS", "data@zlv.example, support@zlv.example")
    ti = types.SimpleNamespace(dag_id="zlv_transform", task_id="rgpd_audit", run_id="r-42", try_number=1, log_url="http://x/log")
    airflow_tasks.notify_failure({"ti": ti, "exception": RuntimeError("RGPD audit FAIL: 1 failure(s)")})
    [message] = smtp_server.wait_for(lambda m: "r-42" in m.get_body().get_content())
    assert message["subject"] == "[ZLV] zlv_transform.rgpd_audit failed: RuntimeError: RGPD audit FAIL: 1 failure(s)"
    assert message["to"] == "data@zlv.example, support@zlv.example" and message["from"] == "airflow@zlv.example"


def test_a_production_column_nobody_classified_is_announced_by_email(smtp_server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ZLV_SMTP", smtp_server.airflow_connection())
    monkeypatch.setenv("ZLV_ALERT_RECIPIENTS", "data@zlv.example")
    airflow_tasks.notify_unclassified_columns("owners", ["nickname", "mobile_2"], "r-unclassified")
    [message] = smtp_server.wait_for(lambda m: "r-unclassified" in m.get_body().get_content())
    assert message["subject"] == "[ZLV] production table owners: 2 new column(s) not copied: nickname, mobile_2"
    body = message.get_body().get_content()
    assert "<code>nickname</code>" in body and "production_tables.yml" in body and "backfills it on every row" in body
