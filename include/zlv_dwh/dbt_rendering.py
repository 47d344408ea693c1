"""Cosmos configuration for the dbt project, built once so every DAG renders it the same way.

The project is loaded from a manifest built ahead (`make manifest`, `dbt parse`) and checked against
the project files (zlv_dwh.dbt_project): DAG files then parse in about a second with no database. Models run in-process (dbtRunner), tests after each model,
every dbt task in the one-slot DuckDB pool."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior, TestIndirectSelection

from zlv_dwh import dbt_project
from zlv_dwh.settings import DBT_MANIFEST, DBT_PROJECT_DIR, DUCKDB_POOL, Paths, warehouse_backend


def project_config() -> ProjectConfig:
    dbt_project.check()  # a stale manifest fails the DAG import, visibly, instead of rendering old models
    return ProjectConfig(
        dbt_project_path=DBT_PROJECT_DIR,
        manifest_path=DBT_MANIFEST,
        install_dbt_deps=False,
        env_vars=Paths.from_env().dbt_env(),
    )


def profile_config() -> ProfileConfig:
    # profiles.yml has one target per storage backend, named after it.
    return ProfileConfig(
        profile_name="zlv", target_name=warehouse_backend(), profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml"
    )


def execution_config() -> ExecutionConfig:
    return ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL,
        invocation_mode=InvocationMode.DBT_RUNNER,
        # A model's test task runs only the tests of that model; tests spanning several models
        # (relationships) get their own task after all their parents (see render_config).
        test_indirect_selection=TestIndirectSelection.CAUTIOUS,
        dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
    )


def render_config() -> RenderConfig:
    # ZLV_DBT_SELECT (dbt selectors, comma-separated) renders part of the project: for a quick
    # check of a real scheduler, or a team working on one mart. Unset: every model.
    select = [s.strip() for s in os.environ.get("ZLV_DBT_SELECT", "").split(",") if s.strip()]
    return RenderConfig(
        select=select,
        load_method=LoadMode.DBT_MANIFEST,
        test_behavior=TestBehavior.AFTER_EACH,
        # Tests of several models get their own task after all their parents. Under a selection,
        # Cosmos would also render those whose other parents are not selected (they then fail on
        # missing relations), so a partial rendering leaves them out.
        should_detach_multiple_parents_tests=not select,
    )


OPERATOR_ARGS = {"pool": DUCKDB_POOL, "install_deps": False}
