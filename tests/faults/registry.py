"""The faults the suite must inject, each with the test that injects it and what must hold.

A registered fault that no test injected in a run (skipped, deselected, not reached) counts as not
survived, and a fault a test injects without being registered here is an error: the ledger's figures
say what was measured, not what happened to run (tests/faults/ledger.py)."""

from __future__ import annotations

from typing import NamedTuple


class Registered(NamedTuple):
    name: str
    test: str
    holds: str


REGISTERED: tuple[Registered, ...] = (
    Registered(
        "SIGKILL mid full load",
        "tests/faults/test_kill.py::test_sigkill_mid_full_load_then_rerun_equals_an_uninterrupted_run",
        "a load killed with SIGKILL leaves no partial table; the rerun equals an uninterrupted run",
    ),
    Registered(
        "SIGKILL mid incremental load",
        "tests/faults/test_kill.py::test_sigkill_mid_incremental_load_then_rerun_equals_an_uninterrupted_run",
        "an incremental load killed with SIGKILL leaves no partial table; the rerun equals an uninterrupted run",
    ),
    Registered(
        "PostgreSQL connection dropped mid-copy (full load)",
        "tests/faults/test_source.py::test_connection_dropped_mid_copy_fails_clearly_and_the_retry_loads_every_row_once",
        "a dropped source connection fails the load clearly; the retry loads every row once",
    ),
    Registered(
        "PostgreSQL connection dropped mid-copy (incremental load)",
        "tests/faults/test_source.py::test_connection_dropped_mid_copy_fails_clearly_and_the_retry_loads_every_row_once",
        "a dropped source connection fails the load clearly; the retry loads every row once",
    ),
    Registered(
        "PostgreSQL connection dropped on a metadata query",
        "tests/faults/test_source.py::test_connection_dropped_while_reading_source_metadata_fails_with_a_short_clear_error",
        "a dropped connection on a metadata query fails with a short clear error",
    ),
    Registered(
        "production schema drift: add column energy_class text default 'F'",
        "tests/faults/test_source.py::test_schema_drift_is_reported_or_refused_and_the_raw_table_is_kept",
        "a production schema change is reported or refused; the raw table is kept",
    ),
    Registered(
        "production schema drift: drop column label",
        "tests/faults/test_source.py::test_schema_drift_is_reported_or_refused_and_the_raw_table_is_kept",
        "a production schema change is reported or refused; the raw table is kept",
    ),
    Registered(
        "production schema drift: alter column amount",
        "tests/faults/test_source.py::test_schema_drift_is_reported_or_refused_and_the_raw_table_is_kept",
        "a production schema change is reported or refused; the raw table is kept",
    ),
    Registered(
        "production schema drift: drop table",
        "tests/faults/test_source.py::test_schema_drift_is_reported_or_refused_and_the_raw_table_is_kept",
        "a production schema change is reported or refused; the raw table is kept",
    ),
    Registered(
        "write through the loader's session",
        "tests/faults/test_source.py::test_the_production_connection_refuses_writes",
        "no write ever reaches production through the loader",
    ),
    Registered(
        "write in a read-write transaction of the loader's login",
        "tests/faults/test_source.py::test_the_production_connection_refuses_writes",
        "no write ever reaches production through the loader",
    ),
    Registered(
        "write through the DuckDB attachment",
        "tests/faults/test_source.py::test_the_production_connection_refuses_writes",
        "no write ever reaches production through the loader",
    ),
    Registered(
        "hostile table and column names in production_tables.yml",
        "tests/faults/test_source.py::test_hostile_identifiers_in_the_configuration_are_quoted",
        "hostile identifiers are quoted, never executed",
    ),
    Registered(
        "S3 server unreachable between listing and download",
        "tests/faults/test_storage.py::test_storage_down_then_back_loses_nothing",
        "storage down fails clearly; once back, the family loads whole",
    ),
    Registered(
        "S3 server unreachable at listing",
        "tests/faults/test_storage.py::test_storage_down_then_back_loses_nothing",
        "storage down fails clearly; once back, the family loads whole",
    ),
    Registered(
        "S3 500 every time (lake/cerema/ff/2024/raw.csv.gz)",
        "tests/faults/test_storage.py::test_storage_errors_mid_download_fail_the_object_and_the_retry_loads_it_once",
        "a failed download fails its object only; the retry loads it once",
    ),
    Registered(
        "S3 500 once (lake/cerema/ff/2024/raw.csv.gz)",
        "tests/faults/test_storage.py::test_storage_errors_mid_download_fail_the_object_and_the_retry_loads_it_once",
        "a failed download fails its object only; the retry loads it once",
    ),
    Registered(
        "S3 body cut mid-download (lake/cerema/ff/2024/raw.csv.gz)",
        "tests/faults/test_storage.py::test_storage_errors_mid_download_fail_the_object_and_the_retry_loads_it_once",
        "a failed download fails its object only; the retry loads it once",
    ),
    Registered(
        "object deleted between listing and download",
        "tests/faults/test_storage.py::test_an_object_deleted_between_listing_and_download_is_skipped_and_the_rest_loads",
        "a vanished object is skipped and reported; the rest loads",
    ),
    Registered(
        "bad file: truncated gzip",
        "tests/faults/test_storage.py::test_bad_files_are_quarantined_with_their_reason_and_the_rest_loads",
        "a bad file is quarantined with its reason; the rest of the family loads",
    ),
    Registered(
        "bad file: undecodable byte",
        "tests/faults/test_storage.py::test_bad_files_are_quarantined_with_their_reason_and_the_rest_loads",
        "a bad file is quarantined with its reason; the rest of the family loads",
    ),
    Registered(
        "bad file: wrong delimiter",
        "tests/faults/test_storage.py::test_bad_files_are_quarantined_with_their_reason_and_the_rest_loads",
        "a bad file is quarantined with its reason; the rest of the family loads",
    ),
    Registered(
        "bad file: missing column",
        "tests/faults/test_storage.py::test_bad_files_are_quarantined_with_their_reason_and_the_rest_loads",
        "a bad file is quarantined with its reason; the rest of the family loads",
    ),
    Registered(
        "bad file: duplicate keys",
        "tests/faults/test_storage.py::test_bad_files_are_quarantined_with_their_reason_and_the_rest_loads",
        "a bad file is quarantined with its reason; the rest of the family loads",
    ),
    Registered(
        "bad file: empty file",
        "tests/faults/test_storage.py::test_bad_files_are_quarantined_with_their_reason_and_the_rest_loads",
        "a bad file is quarantined with its reason; the rest of the family loads",
    ),
    Registered(
        "bad file: 0-row millesime",
        "tests/faults/test_storage.py::test_bad_files_are_quarantined_with_their_reason_and_the_rest_loads",
        "a bad file is quarantined with its reason; the rest of the family loads",
    ),
    Registered(
        "bad file: malformed lines",
        "tests/faults/test_storage.py::test_bad_files_are_quarantined_with_their_reason_and_the_rest_loads",
        "a bad file is quarantined with its reason; the rest of the family loads",
    ),
    Registered(
        "bad file: 7z archive",
        "tests/faults/test_storage.py::test_bad_files_are_quarantined_with_their_reason_and_the_rest_loads",
        "a bad file is quarantined with its reason; the rest of the family loads",
    ),
    Registered(
        "real-world delivery: windows-1252 bytes declared utf-8",
        "tests/faults/test_storage.py::test_files_as_real_deliveries_come_load_by_name_and_report_what_differs",
        "real deliveries load by name and report what differs from the contract",
    ),
    Registered(
        "real-world delivery: extra and trailing empty columns",
        "tests/faults/test_storage.py::test_files_as_real_deliveries_come_load_by_name_and_report_what_differs",
        "real deliveries load by name and report what differs from the contract",
    ),
    Registered(
        "real-world delivery: columns in another order",
        "tests/faults/test_storage.py::test_files_as_real_deliveries_come_load_by_name_and_report_what_differs",
        "real deliveries load by name and report what differs from the contract",
    ),
    Registered(
        "real-world delivery: plain CSV under a .gz key",
        "tests/faults/test_storage.py::test_files_as_real_deliveries_come_load_by_name_and_report_what_differs",
        "real deliveries load by name and report what differs from the contract",
    ),
    Registered(
        "hostile dataset, column and key names in file_families.yml",
        "tests/faults/test_storage.py::test_hostile_names_in_the_file_configuration_are_quoted",
        "hostile names in the file configuration are quoted, never executed",
    ),
    Registered(
        "second writer through the warehouse helper",
        "tests/faults/test_warehouse.py::test_a_second_writer_fails_clearly_and_the_file_stays_whole",
        "a second writer fails clearly; the warehouse file stays whole",
    ),
    Registered(
        "second writer bypassing the helper (plain DuckDB)",
        "tests/faults/test_warehouse.py::test_a_second_writer_fails_clearly_and_the_file_stays_whole",
        "a second writer fails clearly; the warehouse file stays whole",
    ),
    Registered(
        "second writer while the first holds the file",
        "tests/faults/test_warehouse.py::test_a_second_writer_waits_for_the_first_then_both_writes_are_kept",
        "a second writer waits for the first; both writes are kept",
    ),
    Registered(
        "disk full during publish",
        "tests/faults/test_warehouse.py::test_disk_full_during_publish_keeps_the_previous_file",
        "a full disk during publish keeps the previously published file whole",
    ),
    Registered(
        "RGPD audit fails",
        "tests/faults/test_warehouse.py::test_a_failing_rgpd_audit_publishes_nothing_and_sends_the_alert",
        "a failing RGPD audit publishes nothing and sends the alert",
    ),
    Registered(
        "warehouse, journal and published file permissions",
        "tests/faults/test_warehouse.py::test_the_warehouse_its_journal_and_the_published_file_are_private",
        "the warehouse, its journal and the published file are readable by their owner only",
    ),
    Registered(
        "secrets handed to failing and succeeding loads",
        "tests/faults/test_warehouse.py::test_no_secret_reaches_logs_load_logs_audit_report_or_published_file",
        "no secret reaches a log, the load log, the audit report or the published file",
    ),
    Registered(
        "secrets handed to real task processes (task log files)",
        "tests/test_airflow_scheduler.py::test_no_secret_in_the_real_task_logs",
        "no secret reaches the task log files of real Airflow task processes",
    ),
    Registered(
        "secrets handed to every DAG of the pipeline, twice, and a failing run",
        "tests/test_end_to_end.py::test_no_secret_in_the_dag_runs_output_the_warehouse_or_the_published_folder",
        "no secret reaches the DAG runs' output, the warehouse or the published folder",
    ),
)
