"""What the Airflow tasks call: resolve connections and secrets the Airflow way, then hand plain
values to the Airflow-free core. Imported by DAG files; touches Airflow only when a task runs."""

from __future__ import annotations

import dataclasses
import logging
import os

from zlv_dwh import alerts, dbt_commands, indicator_drift, ingest_files, ingest_postgres, pii, publish, rgpd_audit
from zlv_dwh.settings import DBT_MANIFEST, Paths
from zlv_dwh.warehouse import connect, install_extensions, retry_on_conflict

log = logging.getLogger(__name__)


# Extras of a postgres connection that are libpq options (the rest belong to the hook: iam,
# aws_conn_id, cursor, sqlalchemy_*...), passed on to the connection string.
LIBPQ_OPTIONS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "application_name",
    "options",
    "target_session_attrs",
)


def postgres_dsn(conn_id: str) -> str:
    """The production database's libpq connection string: the provider's PostgresHook resolves the
    login (an IAM token when the connection says `iam`), host, port and database; psycopg writes
    them, with the connection's libpq options, escaped. The password is never logged."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from psycopg.conninfo import make_conninfo

    hook = PostgresHook(postgres_conn_id=conn_id)
    url = hook.sqlalchemy_url
    options = {k: v for k, v in hook.connection.extra_dejson.items() if k in LIBPQ_OPTIONS}
    options.setdefault("application_name", "zlv_dwh_ingest")
    parts = {"host": url.host, "port": url.port, "dbname": url.database, "user": url.username, "password": url.password}
    return make_conninfo(**{k: v for k, v in parts.items() if v not in (None, "")}, **options)


def s3_settings(conn_id: str) -> ingest_files.S3Settings:
    """S3 access from the provider's S3Hook: its credentials (static keys, or the temporary ones of
    an assumed role / session, with their token), its endpoint (`endpoint_url` in the extra, for
    Cellar or MinIO) and region."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=conn_id)
    credentials = hook.get_credentials()
    return ingest_files.S3Settings(
        endpoint_url=hook.conn_config.endpoint_url,
        access_key_id=credentials.access_key,
        secret_access_key=credentials.secret_key,
        region=hook.conn_region_name or "us-east-1",
        session_token=credentials.token,
    )


def pseudonymisation_key() -> bytes | None:
    """The keyed-hash secret: environment first, then the Airflow variable named by the policy."""
    key = pii.key_from_env()
    if key:
        return key
    from airflow.sdk import Variable

    value = Variable.get(pii.load_policy().key_airflow_variable, default=None)
    return value.encode("utf-8") if value else None


def _needs_a_person(exc: Exception):
    """Deterministic failures (schema drift, contract, audit, drift gate): retrying cannot help,
    so the task fails at once (and the alert goes out) instead of waiting for its retries."""
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(f"{type(exc).__name__}: {exc}")


def ingest_production_table(table: str, run_id: str) -> dict:
    config = ingest_postgres.load_config()
    paths = Paths.from_env()
    try:
        record = _ingest_production_table(config, paths, table, run_id)
    except ingest_postgres.SchemaDriftError as exc:
        raise _needs_a_person(exc) from None
    if record.unclassified_columns:
        notify_unclassified_columns(table, record.unclassified_columns, run_id)
    return {
        "table": table,
        "rows": record.rows_loaded,
        "read": record.rows_read,
        "mode": record.mode,
        "unclassified_columns": record.unclassified_columns,
        "future_watermark_rows": record.future_watermark_rows,
    }


def _ingest_production_table(config, paths, table: str, run_id: str):
    dsn, key = postgres_dsn(config.connection_id), pseudonymisation_key()
    return retry_on_conflict(
        lambda: ingest_postgres.ingest_declared(
            config, table, pg_dsn=dsn, warehouse=paths.warehouse, run_id=run_id, key=key, extension_dir=paths.extension_dir
        )
    )


def list_file_objects(family: str) -> list[dict]:
    """The objects of a family, as plain dicts: one mapped load task each."""
    config = ingest_files.load_config()
    refs = ingest_files.list_objects(s3_settings(config.connection_id), config.bucket, config.families[family])
    log.info("%s object(s) listed for family %s", len(refs), family)
    return [dataclasses.asdict(ref) for ref in refs]


def load_file_object(ref: dict, run_id: str) -> dict:
    config, paths = ingest_files.load_config(), Paths.from_env()
    obj = ingest_files.ObjectRef(**ref)  # the bucket travels in the ref
    s3, key = s3_settings(config.connection_id), pseudonymisation_key()
    outcome = retry_on_conflict(
        lambda: ingest_files.load_object(
            obj,
            config.families[obj.family].dataset(obj.dataset),
            s3=s3,
            warehouse=paths.warehouse,
            run_id=run_id,
            hash_key=key,
            extension_dir=paths.extension_dir,
        )
    )
    return outcome.as_dict()


def finish_file_family(family: str, refs: list[dict], outcomes: list[dict | None], run_id: str) -> str:
    """Runs whatever the load tasks did (trigger rule all_done): an object whose task failed has no
    outcome and is reported as failed, so every object of the run is in the report."""
    config, paths = ingest_files.load_config(), Paths.from_env()
    known = [ingest_files.ObjectOutcome(**o) for o in outcomes if o]
    reported = {o.key for o in known}
    known += [
        ingest_files.ObjectOutcome(
            r["key"],
            r["dataset"],
            "failed",
            reason=f"s3://{r['bucket']}/{r['key']}: its load_object task failed (see that task's log)",
        )
        for r in refs
        if r["key"] not in reported
    ]
    report = retry_on_conflict(
        lambda: ingest_files.finish_family(
            config.families[family],
            [ingest_files.ObjectRef(**r) for r in refs],
            known,
            warehouse=paths.warehouse,
            run_id=run_id,
        )
    )
    return report.summary()


def run_raw_rgpd_audit(run_id: str) -> str:
    """The raw production copy audited before dbt reads it; report in ops.rgpd_audit (run id
    suffixed `#raw`) and <data>/published/rgpd_audit_raw.json."""
    paths, config = Paths.from_env(), ingest_postgres.load_config()
    install_extensions(paths.extension_dir)  # what the dbt build after this task loads (spatial)
    with connect(paths.warehouse) as con:
        report = rgpd_audit.audit_raw(con, config, run_id, key=pseudonymisation_key())
        rgpd_audit.record(con, report)
    paths.published_dir.mkdir(parents=True, exist_ok=True)
    rgpd_audit.write_json(report, paths.published_dir / "rgpd_audit_raw.json")
    log.info("%s", report.summary())
    if report.verdict != "pass":
        raise rgpd_audit.RgpdAuditFailed(report.summary())
    return report.verdict


# Each source the marts are built from (its ops.load_log `source`) and the DAG that loads it. The
# national referential is not waited for: the build loads it first if it never was
# (ensure_referential), so a fresh deployment needs no manual first step.
SOURCES_OF_THE_MARTS = {
    "production": "zlv_ingest_production",
    "locomvac": "zlv_ingest_locomvac",
    "ff": "zlv_ingest_ff",
}


def transform_needed(run_type: str) -> tuple[bool, str]:
    """Whether a zlv_transform run has something to build, and why. Only the scheduled safety-net
    run is ever skipped: on a fresh deployment (no source loaded yet: building would fail every
    task) and when no load succeeded since the last publication (nothing new). A manual or
    asset-triggered run always builds. Never raises: in doubt, build (and report its errors)."""
    if run_type != "scheduled":
        return True, f"{run_type} run: building"
    try:
        import duckdb

        from zlv_dwh.warehouse import table_exists

        paths = Paths.from_env()
        if not paths.warehouse.exists():
            return False, "skipped: no source loaded yet (no warehouse file); trigger the zlv_ingest_* DAGs"
        with connect(paths.warehouse) as con:
            loaded = (
                dict(
                    con.execute(
                        "select source, max(finished_at) from ops.load_log where status = 'success' group by source"
                    ).fetchall()
                )
                if table_exists(con, "ops", "load_log")
                else {}
            )
        missing = [s for s in SOURCES_OF_THE_MARTS if s not in loaded]
        if missing:
            return False, (
                f"skipped: no source loaded yet ({', '.join(missing)} never loaded); "
                f"trigger {', '.join(SOURCES_OF_THE_MARTS[m] for m in missing)}"
            )
        if paths.published_marts.exists():
            with duckdb.connect(str(paths.published_marts), read_only=True) as pub:
                published_at = pub.execute("select max(published_at) from _publication").fetchone()[0]
            newest = max(v for v in loaded.values() if v is not None)
            if published_at is not None and newest is not None and newest <= published_at:
                return False, f"skipped: nothing new since the last publication ({published_at:%Y-%m-%d %H:%M} UTC)"
        return True, "scheduled run: sources loaded since the last publication, building"
    except Exception as exc:  # the guard must never be the red task
        log.warning("could not decide whether to skip (%s): building", exc)
        return True, "building (could not read the load log)"


def run_rgpd_audit(run_id: str) -> str:
    paths = Paths.from_env()
    with connect(paths.warehouse) as con:
        report = rgpd_audit.audit(con, DBT_MANIFEST, run_id, key=pseudonymisation_key())
        rgpd_audit.record(con, report)
        dropped = rgpd_audit.drop_failed_marts(con, report) if report.verdict != "pass" else []
    paths.published_dir.mkdir(parents=True, exist_ok=True)
    rgpd_audit.write_json(report, paths.published_dir / "rgpd_audit.json")
    log.info("%s", report.summary())
    if report.verdict != "pass":
        dropped_note = f"\nmarts dropped from the warehouse (rebuilt by the next run): {', '.join(dropped)}" if dropped else ""
        raise rgpd_audit.RgpdAuditFailed(report.summary() + dropped_note)
    return report.verdict


def drift_approved(run_id: str, params: dict) -> bool:
    """An operator approves a run's indicator changes by the DAG param, or by listing its run id in
    the Airflow variable (for a run already started: set it, then clear the gate task)."""
    config = indicator_drift.load_config()
    if params.get(config.approval_param):
        return True
    from airflow.sdk import Variable

    listed = Variable.get(config.approval_variable, default="") or ""
    return run_id in {r.strip() for r in listed.split(",")}


def run_indicator_drift_gate(run_id: str, params: dict) -> str:
    paths = Paths.from_env()
    approved = drift_approved(run_id, params)
    with connect(paths.warehouse) as con:
        report = indicator_drift.compare(con, paths.published_marts, run_id, approved)
        indicator_drift.record(con, report)
    paths.published_dir.mkdir(parents=True, exist_ok=True)
    indicator_drift.write_json(report, paths.published_dir / "indicator_drift.json")
    log.info("%s", report.summary())
    if report.verdict == "fail":
        raise indicator_drift.IndicatorDriftError(report.summary())
    return report.verdict


def purge_publication(run_id: str, reason: str) -> dict:
    """Withdraw a publication and put back the last good one (zlv_dwh.publish.purge)."""
    paths = Paths.from_env()
    result = publish.purge(paths.warehouse, paths.published_marts, run_id, reason)
    return {"purged": result.purged_run_id, "removed": result.removed, "published_now": result.republished_run_id}


def publish_marts(run_id: str) -> dict:
    paths = Paths.from_env()
    result = publish.publish(paths.warehouse, paths.published_marts, run_id, DBT_MANIFEST)
    log.info("published %s to %s", result.tables, result.path)
    return {"path": str(result.path), "tables": result.tables}


def check_source_freshness() -> str:
    """Log each raw table's staleness; fail (so the alert goes out) when one is past its error threshold."""
    paths = Paths.from_env()
    report = dbt_commands.source_freshness(paths.warehouse, paths.dbt_freshness_dir)
    if report.by_status("error") or report.by_status("runtime error"):
        raise dbt_commands.DbtCommandError(report.summary())
    return report.summary()


def generate_dbt_docs() -> str:
    paths = Paths.from_env()
    return str(dbt_commands.generate_docs(paths.warehouse, paths.dbt_docs_dir))


ALERT_CONNECTION = "zlv_smtp"
ALERT_RECIPIENTS_VARIABLE = "zlv_alert_recipients"


def alert_recipients() -> list[str]:
    """From ZLV_ALERT_RECIPIENTS, else the Airflow variable zlv_alert_recipients (comma-separated)."""
    if os.environ.get("ZLV_ALERT_RECIPIENTS"):
        return alerts.recipients_from(os.environ["ZLV_ALERT_RECIPIENTS"])
    from airflow.sdk import Variable

    return alerts.recipients_from(Variable.get(ALERT_RECIPIENTS_VARIABLE, default=""))


def _send_email(subject: str, body: str) -> bool:
    """Email the alert recipients through the `zlv_smtp` connection; False when nobody is set."""
    to = alert_recipients()
    if not to:
        log.warning("no alert recipients (%s / ZLV_ALERT_RECIPIENTS): no email sent", ALERT_RECIPIENTS_VARIABLE)
        return False
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=ALERT_CONNECTION) as hook:
        hook.send_email_smtp(to=to, subject=subject, html_content=body)
    log.info("email %r sent to %d recipient(s)", subject, len(to))
    return True


def notify_unclassified_columns(table: str, columns: list[str], run_id: str) -> None:
    """A production column nobody classified was not copied: the load succeeded, a person decides.
    Never raises (the load itself is fine)."""
    try:
        subject, body = alerts.unclassified_columns_email(table, columns, run_id)
        _send_email(subject, body)
    except Exception:  # pragma: no cover - reported in the task log
        log.exception("could not send the unclassified-columns notice")


def notify_failure(context) -> None:
    """on_failure_callback: the email, then the next-step line, last in the task's log. Never
    raises: a broken mailer must not hide the failure."""
    ti = context["ti"]
    error = context.get("exception")
    try:
        subject, body = alerts.failure_email(
            ti.dag_id,
            ti.task_id,
            ti.run_id,
            getattr(ti, "try_number", None),
            f"{type(error).__name__}: {error}" if error else "",
            getattr(ti, "log_url", None),
        )
        _send_email(subject, body)
    except Exception:  # pragma: no cover - reported in the task log
        log.exception("could not send the failure alert")
    finally:
        log.error("%s", alerts.next_step(ti.dag_id, ti.task_id, type(error).__name__ if error else "", str(error or "")))


def ensure_referential(run_id: str) -> None:
    """Load the national referential if the warehouse has none yet (a fresh deployment: its yearly
    DAG has not run); otherwise leave it to zlv_refresh_referentials."""
    from zlv_dwh import referentials
    from zlv_dwh.warehouse import table_exists

    paths = Paths.from_env()
    with connect(paths.warehouse) as con:
        present = table_exists(con, referentials.SCHEMA, "source")
    if present:
        return
    log.info("no national referential in the warehouse yet: loading it before the build")
    referentials.refresh(paths.warehouse, paths.download_cache, run_id)


def refresh_referentials(run_id: str) -> dict:
    """The national referential (INSEE COG through the pinned source), then the project's seeds
    (the status vocabulary); returns the rows loaded per table."""
    from zlv_dwh import referentials

    paths = Paths.from_env()
    counts = referentials.refresh(paths.warehouse, paths.download_cache, run_id)
    seeds = dbt_commands.seed_referentials(paths.warehouse, paths.data_dir / "dbt_seed")
    return {"rows": counts, "seeds": seeds}
