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
        "<p>What to do: the DAG's documentation in the Airflow UI says, per task, what a failure means "
        "and how to recover.</p>"
    )
    return subject, body


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
