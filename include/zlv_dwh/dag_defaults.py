"""What every ZLV DAG shares: owner, retries, start date, timezone, and the raw-zone assets."""

from __future__ import annotations

import datetime as dt

import pendulum

from zlv_dwh.airflow_tasks import notify_failure

TIMEZONE = pendulum.timezone("Europe/Paris")
START_DATE = pendulum.datetime(2026, 1, 1, tz=TIMEZONE)

# Transient failures (network, source restarting) are retried; contract and audit failures are
# deterministic, so those tasks set retries=0 themselves.
DEFAULT_ARGS = {
    "owner": "zlv-data",
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=2),
    "retry_exponential_backoff": True,
    # Once retries are exhausted: an email to zlv_alert_recipients through the zlv_smtp connection.
    "on_failure_callback": notify_failure,
}

# One asset per raw family: the transform DAG is scheduled on them (data-aware).
RAW_ASSETS = {
    "production": "zlv_raw_production",
    "locomvac": "zlv_raw_locomvac",
    "ff": "zlv_raw_ff",
    "referentials": "zlv_referentials",
}
