"""The failure email the data and support teams receive: which DAG and task failed, the first
lines of the error, and the link to the log. Built here without Airflow (tested alone); sent by
`airflow_tasks.notify_failure` through Airflow's SMTP provider and the `zlv_smtp` connection."""

from __future__ import annotations

import html
import re

MAX_ERROR_LINES = 15
_SECRETS = re.compile(
    r"""((?:password|passwd|secret|key_id|secret_access_key|token)\s*[=:]\s*)('[^']*'|"[^"]*"|\S+)""", re.IGNORECASE
)


def redact(text: str) -> str:
    """Hide anything shaped like `password=...` / `secret: ...` before it leaves in an email."""
    return _SECRETS.sub(r"\1***", text)


def recipients_from(value: str | None) -> list[str]:
    return [r.strip() for r in re.split(r"[,;\s]+", value or "") if r.strip()]


def failure_email(
    dag_id: str, task_id: str, run_id: str, try_number: int | None, error: str, log_url: str | None
) -> tuple[str, str]:
    """(subject, html body)."""
    lines = [line for line in redact(error or "no error message").strip().splitlines() if line.strip()]
    head = lines[:MAX_ERROR_LINES]
    more = f"<p>… {len(lines) - len(head)} more line(s) in the log.</p>" if len(lines) > len(head) else ""
    first = head[0][:120] if head else ""
    subject = f"[ZLV] {dag_id}.{task_id} failed: {first}"
    log_link = f'<p><a href="{html.escape(log_url)}">Task log</a> ({html.escape(log_url)})</p>' if log_url else ""
    body = (
        f"<p>DAG <b>{html.escape(dag_id)}</b>, task <b>{html.escape(task_id)}</b> failed"
        f"{f' (attempt {try_number})' if try_number else ''}, run <code>{html.escape(run_id)}</code>.</p>"
        f"<pre>{html.escape(chr(10).join(head))}</pre>{more}{log_link}"
        f"<p>{html.escape(next_step(dag_id, task_id, (error or ':').split(':', 1)[0].strip(), error or ''))}</p>"
        "<p>The DAG's documentation in the Airflow UI says, per task, what a failure means and how to recover.</p>"
    )
    return subject, body


# One line per failure class a support person meets: what to check, what to trigger after. Matched
# on the exception's class name and message (this module does not import the pipeline's modules).
_STORAGE = re.compile(r"storage (unreachable|refused)|cannot list s3://|download interrupted", re.IGNORECASE)
_CREDENTIALS = re.compile(r"AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|403|refused the download", re.IGNORECASE)
_DATABASE = re.compile(r"connection|could not connect|timeout|unreachable|refused", re.IGNORECASE)


def next_step(dag_id: str, task_id: str, error_type: str, message: str) -> str:
    """The last line of a failed task's log (and of the alert): what to check, what to trigger after."""
    rerun = f"then trigger {dag_id} again (or clear this task)"
    if error_type == "FileIngestError" and _CREDENTIALS.search(message):
        return (
            "NEXT STEP: the object storage refused the credentials: check the zlv_s3 connection's key and secret "
            f"(Admin > Connections) and the bucket's access rights, {rerun}."
        )
    if error_type == "FileIngestError" and _STORAGE.search(message):
        return (
            "NEXT STEP: the object storage is unreachable: check the S3 endpoint of the zlv_s3 connection "
            f"(Admin > Connections) answers from the Airflow workers and the bucket exists, {rerun}."
        )
    if error_type == "FileIngestError":
        return f"NEXT STEP: a file could not be read for a reason that is not its content (storage or warehouse disk): check the error above, {rerun}."
    if error_type == "ContractError":
        return (
            "NEXT STEP: a file is quarantined: read its reason in ops.file_manifest (and its lines in ops.file_rejects), "
            f"fix or replace the file in the bucket, {rerun}; the other files are loaded."
        )
    if error_type == "SchemaDriftError":
        return (
            "NEXT STEP: the production schema changed (a column dropped or retyped): update its treatment in "
            f"include/config/production_tables.yml, deploy, {rerun}."
        )
    if error_type == "WritableLoginError":
        return (
            "NEXT STEP: the production login can write: have a PostgreSQL admin run the statements above "
            f"(README, 'The production login'), {rerun}."
        )
    if error_type == "IngestError" and _DATABASE.search(message):
        return (
            "NEXT STEP: the production database did not answer or refused the login: check the zlv_production "
            f"connection (Admin > Connections) and that the database is up, {rerun}."
        )
    if error_type == "RgpdAuditFailed":
        return (
            "NEXT STEP: personal data reached a mart (nothing was published, the marts caught were dropped): fix the "
            f"model or the column's treatment named above, then trigger {dag_id} again."
        )
    if error_type == "IndicatorDriftError":
        return (
            "NEXT STEP: a headline indicator moved beyond its tolerance (nothing was published): check the figures "
            f"above; if they are right, trigger {dag_id} with the param approve_indicator_drift=true, else fix the source first."
        )
    if task_id == "source_freshness":
        return (
            "NEXT STEP: a source has not been loaded for longer than its threshold: look at the last runs of the "
            "zlv_ingest_* DAG named above (paused? failing?), fix it and trigger it."
        )
    return f"NEXT STEP: read the error above and the DAG's Docs tab (what a failure of {task_id} means), {rerun}."


def unclassified_columns_email(table: str, columns: list[str], run_id: str) -> tuple[str, str]:
    """(subject, html body) of the notice sent when production has columns nobody classified."""
    names = ", ".join(columns)
    subject = f"[ZLV] production table {table}: {len(columns)} new column(s) not copied: {names}"[:200]
    items = "".join(f"<li><code>{html.escape(c)}</code></li>" for c in columns)
    body = (
        f"<p>The load of <b>{html.escape(table)}</b> (run <code>{html.escape(run_id)}</code>) succeeded, but these "
        f"source columns have no treatment in <code>include/config/production_tables.yml</code> and were "
        f"<b>not copied</b> (personal data is denied by default):</p><ul>{items}</ul>"
        "<p>What to do: find out what each column holds, then declare it under the table's <code>columns:</code> as "
        "<code>keep</code>, <code>drop</code>, <code>pseudonymise</code>, <code>{derive: [...]}</code> or "
        "<code>{json_keys: [...]}</code>. The next load backfills it on every row. Until then nothing else changes.</p>"
    )
    return subject, body
