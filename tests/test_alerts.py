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


def _failure_of(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the failure under test
        return exc
    raise AssertionError("did not fail")


def test_every_failure_class_ends_with_its_next_step_line(tmp_path):
    """Real failures where they are cheap to cause here (storage down, a quarantined file, an audit
    that fails, a stale source), the others by their exception class: each gets its own line."""

    from zlv_dwh import indicator_drift, ingest_files, ingest_postgres, rgpd_audit, source_guard
    from zlv_dwh.settings import S3Settings

    family = ingest_files.load_config().families["ff"]
    down = _failure_of(lambda: ingest_files.list_objects(S3Settings("http://127.0.0.1:1", "k", "s"), "b", family))
    cases = {
        "storage unreachable": ("zlv_ingest_ff", "list_objects", down, "object storage is unreachable"),
        "credentials refused": (
            "zlv_ingest_ff",
            "load_object",
            ingest_files.FileIngestError("file s3://b/k: storage refused the download (InvalidAccessKeyId)"),
            "refused the credentials",
        ),
        "file quarantined": (
            "zlv_ingest_ff",
            "finish",
            ingest_files.ContractError("1 file(s) quarantined"),
            "a file is quarantined",
        ),
        "schema drift": (
            "zlv_ingest_production",
            "load_owners",
            ingest_postgres.SchemaDriftError("column x dropped"),
            "production schema changed",
        ),
        "writable login": (
            "zlv_ingest_production",
            "load_owners",
            source_guard.WritableLoginError("production login x can write"),
            "can write",
        ),
        "database down": (
            "zlv_ingest_production",
            "load_owners",
            ingest_postgres.IngestError("production table owners: connection refused"),
            "did not answer or refused the login",
        ),
        "audit failed": (
            "zlv_transform",
            "rgpd_audit",
            rgpd_audit.RgpdAuditFailed("RGPD audit FAIL"),
            "personal data reached a mart",
        ),
        "drift gate": (
            "zlv_transform",
            "indicator_drift_gate",
            indicator_drift.IndicatorDriftError("vacant dwellings -40%"),
            "approve_indicator_drift=true",
        ),
        "freshness": ("zlv_transform", "source_freshness", RuntimeError("stale: production.owners"), "not been loaded"),
    }
    assert isinstance(down, ingest_files.FileIngestError) and "127.0.0.1:1" in str(down)
    lines = {}
    for name, (dag, task, error, expected) in cases.items():
        line = alerts.next_step(dag, task, type(error).__name__, str(error))
        assert line.startswith("NEXT STEP:") and expected in line, (name, line)
        lines[name] = line
    assert len(set(lines.values())) == len(cases)  # one line per class


def test_the_failure_callback_ends_the_task_log_with_the_next_step(caplog):
    ti = types.SimpleNamespace(dag_id="zlv_ingest_ff", task_id="finish", run_id="r-1", try_number=1, log_url=None)
    from zlv_dwh.ingest_files import ContractError

    with caplog.at_level("INFO"):
        airflow_tasks.notify_failure({"ti": ti, "exception": ContractError("1 file(s) of family ff quarantined")})
    assert caplog.records[-1].getMessage().startswith("NEXT STEP: a file is quarantined")


def test_an_unreachable_storage_is_given_up_in_seconds_not_minutes():
    from zlv_dwh import ingest_files
    from zlv_dwh.settings import S3Settings

    client = ingest_files.s3_client(S3Settings("http://127.0.0.1:1", "k", "s"))
    assert client.meta.config.connect_timeout == 5 and client.meta.config.retries.get("total_max_attempts", 3) <= 4
