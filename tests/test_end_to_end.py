"""The whole pipeline through Airflow (`airflow dags test` of each DAG) on real services.

Slow: migrates a fresh Airflow metadata DB, runs the four DAGs, then reruns to prove the pipeline
is idempotent, and runs the transform DAG once with a deliberately bad mart to prove the RGPD
audit stops publication."""

import hashlib
import json
import shutil

import duckdb
import pytest
import yaml

from conftest import TEST_HASH_KEY
from zlv_dwh import dbt_rendering, ingest_postgres
from zlv_dwh.demo import generate, run
from zlv_dwh.settings import DBT_MANIFEST, DBT_PROJECT_DIR

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(pipeline_stack):
    return pipeline_stack("pipeline", bucket="zlv-e2e")


@pytest.fixture(scope="module")
def first_run(stack, demo):
    generate.upload_files(demo, stack.s3_url, stack.s3_access_key, stack.s3_secret_key, stack.bucket)
    return run.run_pipeline(stack)


def _raw_count(stack, table):
    with duckdb.connect(str(stack.paths.warehouse), read_only=True) as con:
        return con.execute(f"select count(*) from {table}").fetchone()[0]


def test_raw_tables_hold_every_source_row(first_run, stack, demo):
    config = ingest_postgres.load_config()
    for name, spec in config.tables.items():
        if not spec.row_filter:
            assert _raw_count(stack, f"raw_production.{name}") == len(demo.tables[name]), name
    # events of every type are kept (ZLV's return count reads occupancy updates too)
    assert {"housing:status-updated", "housing:occupancy-updated"} <= {e["type"] for e in demo.tables["events"]}
    files = generate.file_row_counts(demo)
    assert _raw_count(stack, "raw_locomvac.lovac") == files["lovac"]
    assert _raw_count(stack, "raw_ff.ff_housing") == files["ff_housing"]
    loads = {(row[0], row[1]): row[4] for row in first_run["loads"]}
    assert set(loads.values()) == {"success"}
    assert ("production", "owners") in loads and ("locomvac", "lovac") in loads and ("ff", "ff_owners") in loads


def test_audit_passed_and_marts_are_published(first_run, stack):
    assert first_run["audit"]["verdict"] == "pass"
    marts = first_run["marts"]
    assert {"vacancy_by_territory", "campaign_funnel", "establishment_activity", "housing_geo"} <= set(marts)
    assert all(rows > 0 for rows in marts.values()), marts
    con = duckdb.connect(str(stack.paths.published_marts), read_only=True)
    assert con.execute("select count(*) from housing_geo").fetchone()[0] == marts["housing_geo"]
    with pytest.raises(duckdb.Error):
        con.execute("create table intruder as select 1")
    public = {r[0] for r in con.execute("select view_name from duckdb_views() where schema_name = 'public'").fetchall()}
    assert "vacancy_by_territory" in public and "housing_geo" not in public
    assert con.execute("select count(*) from public.vacancy_by_territory").fetchone()[0] == marts["vacancy_by_territory"]
    assert json.loads((stack.paths.published_dir / "rgpd_audit.json").read_text())["verdict"] == "pass"
    assert json.loads((stack.paths.published_dir / "indicator_drift.json").read_text())["verdict"] == "pass"


def _payload(value) -> dict:
    return getattr(value, "obj", value) or {}


def _status_code(form) -> int | None:
    """The demo writes labels, slugs, integers and integers as text, as ZLV's events do."""
    if form is None:
        return None
    if isinstance(form, int) or str(form).isdigit():
        return int(form)
    if form in generate.STATUS_SLUGS:
        return generate.STATUS_SLUGS.index(form)
    return generate.STATUS_LABELS.index(form)


def _planted_exits(demo) -> list[tuple]:
    """(event id, housing id) of every status event entering completed + "Sortie de la vacance"."""
    housing_of = {link["event_id"]: link["housing_id"] for link in demo.tables["housing_events"]}
    exits = []
    for event in demo.tables["events"]:
        if event["type"] != "housing:status-updated":
            continue
        old, new = _payload(event["next_old"]), _payload(event["next_new"])
        entered = (_status_code(new.get("status")), new.get("subStatus")) == generate.EXIT_FROM_VACANCY
        stayed = (_status_code(old.get("status")), old.get("subStatus")) == generate.EXIT_FROM_VACANCY
        if entered and not stayed:
            exits.append((event["id"], housing_of[event["id"]]))
    return exits


def _inside(ewkt: str, lon: float, lat: float) -> bool:
    numbers = [float(n) for n in ewkt.split("(((")[1].rstrip(")").replace(",", " ").split()]
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs) < lon < max(xs) and min(ys) < lat < max(ys)


def test_the_published_marts_show_exactly_the_facts_planted_in_the_real_schema(first_run, stack, demo):
    """N exits from vacancy (French labels, slugs and integers in the payloads), M campaigns sent,
    K dwellings in groups still in use, and the dwellings inside each perimeter (PostGIS shapes):
    counted from the generated rows here, read from the published file there."""
    tables = demo.tables
    exits = _planted_exits(demo)
    sent = [c for c in tables["campaigns"] if c["sent_at"] is not None]
    live_groups = {g["id"]: g["establishment_id"] for g in tables["groups"] if g["archived_at"] is None}
    grouped = {
        (live_groups[link["group_id"]], link["housing_id"])
        for link in tables["groups_housing"]
        if link["group_id"] in live_groups
    }
    assert len(exits) > 10 and len(sent) > 10 and len(grouped) > 10  # the demo plants enough to be telling
    assert any(g["archived_at"] is not None for g in tables["groups"])  # and archived groups that must not count
    communes_of = {e["id"]: set(e["localities_geo_code"]) for e in tables["establishments"]}
    inside = {
        p["id"]: sum(
            1
            for h in tables["fast_housing"]
            if h["geo_code"] in communes_of[p["establishment_id"]]
            and _inside(p["geom"], h["longitude_dgfip"], h["latitude_dgfip"])
        )
        for p in tables["geo_perimeters"]
    }
    assert sum(inside.values()) > 0

    with duckdb.connect(str(stack.paths.published_marts), read_only=True) as con:
        one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        assert one("select sum(exits_from_vacancy_count) from housing_status_transitions") == len(exits)
        assert one("select sum(housing_exited_count) from vacancy_exit_delays") == len({h for _, h in exits})
        assert one("select sum(campaigns_sent_count) from establishment_activity") == len(sent)
        assert one("select sum(grouped_housing_count) from establishment_activity") == len(grouped)
        assert one("select sum(groups_count) from establishment_activity") == len(live_groups)
        published = dict(con.execute("select geo_perimeter_id, housing_count from housing_by_perimeter").fetchall())
        # the dashboards' marts: campaigns at campaign grain, ZLV's activation level, the month spine
        assert one("select count(*) from campaign_returns") == len(tables["campaigns"])
        assert one("select sum(housing_count) from campaign_returns") == len(
            {(link["campaign_id"], link["housing_id"]) for link in tables["campaigns_housing"]}
        )
        assert one("select count(*) from establishment_activity where activation_level = '(4) CT activée'") == len(
            {c["establishment_id"] for c in sent}
        )
        assert one("select cumulative_campaigns_sent_count from monthly_statistics order by month_start desc limit 1") == len(
            [c for c in sent if c["sent_at"].year >= 2020]
        )
    assert published == inside


def _headline_by_hand(lines: list[dict], millesime: int, with_ccthp: bool) -> int:
    """« Logements vacants > 2 ans du parc privé » counted by hand from the generated LOVAC lines:
    a flat or house assigned to housing, owner group not 1-6 or 9, vacancy started strictly before
    millésime - 2, and (the 2019-2024 criterion) FF occupancy vacant; one per local id."""

    def counted(line: dict) -> bool:
        private = line["groupe"] is None or int(line["groupe"]) not in (1, 2, 3, 4, 5, 6, 9)
        housing = line["aff"] == "H" and line["nature"] in ("APPART", "MAISON")
        old = line["debutvacance"] is not None and int(line["debutvacance"]) < millesime - 2
        return private and housing and old and (line["ff_ccthp"] == "V" or not with_ccthp)

    return len({line["ff_idlocal"] for line in lines if line["annee"] == millesime and counted(line)})


def test_the_headline_vacancy_figure_follows_each_millesimes_published_criterion(first_run, stack, demo):
    """2024 publishes FIL-ccthp, 2025 FIL (ZLV's lovac_public_criteria): the published national
    figure of each millésime is the hand count with its criterion, and the two criteria differ on
    the demo (some FIL lines say rented in FF), so a criterion taken from the wrong year shows."""
    lines = demo.tables["_lovac_lines"]
    expected = {2024: _headline_by_hand(lines, 2024, with_ccthp=True), 2025: _headline_by_hand(lines, 2025, with_ccthp=False)}
    assert _headline_by_hand(lines, 2024, with_ccthp=False) > expected[2024] > 0
    assert _headline_by_hand(lines, 2025, with_ccthp=True) < expected[2025]
    with duckdb.connect(str(stack.paths.published_marts), read_only=True) as con:
        published = dict(
            con.execute(
                "select lovac_millesime, sum(vacant_over_two_years_public_count) from vacancy_by_territory "
                "where territory_level = 'region' group by 1"
            ).fetchall()
        )
        dwellings = dict(
            con.execute(
                "select lovac_millesime, sum(dwelling_count) from vacancy_by_territory where territory_level = 'commune' group by 1"
            ).fetchall()
        )
    assert published == expected
    # dwellings, not lines: the repeated ff_idlocal lines of the files count once
    assert dwellings == {m: len({line["ff_idlocal"] for line in lines if line["annee"] == m}) for m in (2024, 2025)}


def test_the_run_leaves_fresh_sources_and_the_dbt_docs_site(first_run, stack):
    sources = json.loads((stack.paths.dbt_freshness_dir / "sources.json").read_text())["results"]
    names = {r["unique_id"].split(".", 2)[2] for r in sources}
    assert {"production.fast_housing", "locomvac.lovac", "ff.ff_owners"} <= names
    assert {r["status"] for r in sources} == {"pass"}  # everything was just loaded
    page = stack.paths.dbt_docs_dir / "static_index.html"
    assert page.stat().st_size > 100_000 and b"vacancy_by_territory" in page.read_bytes()
    catalog = json.loads((stack.paths.dbt_docs_dir / "catalog.json").read_text())
    assert "model.zlv.housing_geo" in catalog["nodes"]


def test_owners_match_across_zlv_and_ff_through_the_keyed_hash_alone(first_run, stack):
    with duckdb.connect(str(stack.paths.warehouse), read_only=True) as con:
        both, total = con.execute(
            "select count(*) filter (where is_in_zlv and is_in_ff), count(*) from intermediate.int_owners_deduplicated"
        ).fetchone()
    assert 0 < both <= total


def test_every_model_column_is_documented_and_classified(first_run, stack):
    from zlv_dwh import rgpd_audit

    with duckdb.connect(str(stack.paths.warehouse), read_only=True) as con:
        assert rgpd_audit.documentation_gaps(con, DBT_MANIFEST) == []


def test_no_personal_value_of_the_sources_reaches_the_published_file(first_run, stack, demo):
    values = set()
    for owner in demo.tables["owners"]:
        values |= {owner["full_name"], owner["email"], owner["phone"], owner["idpersonne"]}
    for user in demo.tables["users"]:
        values |= {user["email"], user["last_name"], user["phone"]}
    values.discard(None)
    con = duckdb.connect(str(stack.paths.published_marts), read_only=True)
    text_columns = con.execute(
        "select table_name, column_name from information_schema.columns where data_type = 'VARCHAR'"
    ).fetchall()
    for table, column in text_columns:
        found = {r[0] for r in con.execute(f'select distinct "{column}" from "{table}"').fetchall()}
        assert not (found & values), f"{table}.{column} holds source personal data"
    assert TEST_HASH_KEY not in stack.paths.published_marts.read_bytes()


def test_running_again_changes_nothing(first_run, stack):
    rerun = run.run_pipeline(stack)
    assert rerun["marts"] == first_run["marts"]
    assert [row[:3] for row in rerun["loads"]] == [row[:3] for row in first_run["loads"]]
    incremental = {row[1]: row[6:9] for row in rerun["loads"] if row[5] == "incremental"}
    assert set(incremental) == {"establishments", "users", "owners", "events", "notes"}
    assert all(changes == (0, 0, 0) for changes in incremental.values()), incremental  # nothing changed


def test_a_mart_exposing_personal_data_fails_the_run_publishes_nothing_and_alerts(first_run, stack, tmp_path, smtp_server):
    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "models" / "marts" / "owner_contacts.sql").write_text(
        "select id as owner_id, full_name, email from {{ source('production', 'owners') }}\n"
    )
    (project / "models" / "marts" / "_owner_contacts.yml").write_text(
        yaml.safe_dump(
            {
                "version": 2,
                "models": [
                    {
                        "name": "owner_contacts",
                        "description": "Deliberately bad test fixture.",
                        "columns": [
                            {"name": "owner_id", "meta": {"rgpd": "pseudonymised"}},
                            {"name": "full_name", "meta": {"rgpd": "personal"}},
                            {"name": "email"},
                        ],
                    }
                ],
            }
        )
    )
    before = hashlib.sha256(stack.paths.published_marts.read_bytes()).hexdigest()
    env = stack.env(dbt_project_dir=project)
    run.build_manifest(env, project, tmp_path)
    with pytest.raises(run.StageFailed, match="DAG zlv_transform failed"):
        run.run_dag(stack, "zlv_transform", env)
    assert hashlib.sha256(stack.paths.published_marts.read_bytes()).hexdigest() == before
    with duckdb.connect(str(stack.paths.warehouse), read_only=True) as con:
        failures = con.execute(
            "select column_name, check_name from ops.rgpd_audit where mart = 'owner_contacts' and status = 'fail' "
            "and audited_at = (select max(audited_at) from ops.rgpd_audit)"
        ).fetchall()
        caught_mart_left = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = 'owner_contacts'"
        ).fetchone()[0]
    assert ("full_name", "classification") in failures and ("email", "classification") in failures
    assert caught_mart_left == 0  # the caught mart is dropped, only the report of what failed stays
    log = (stack.state_dir / "logs" / "zlv_transform.log").read_text()
    assert "FAIL owner_contacts.full_name" in log
    assert "starting task_id=rgpd_audit" in log and "starting task_id=publish" not in log
    assert TEST_HASH_KEY.decode() not in log
    alerts = smtp_server.wait_for(
        lambda m: "zlv_transform.rgpd_audit failed" in m["subject"] and "owner_contacts" in m.get_body().get_content()
    )
    alert = alerts[-1]
    body = alert.get_body().get_content()
    assert "RgpdAuditFailed" in alert["subject"] and "FAIL owner_contacts.full_name" in body
    assert alert["to"] == stack.alert_recipients and TEST_HASH_KEY.decode() not in body


def test_a_failing_dbt_test_fails_its_models_task_stops_what_depends_on_it_and_publishes_nothing(first_run, stack, tmp_path):
    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    # A singular test that always finds rows: campaigns "fail" their data test.
    (project / "tests" / "campaigns_never_pass.sql").write_text("select * from {{ ref('stg_production__campaigns') }}\n")
    before = hashlib.sha256(stack.paths.published_marts.read_bytes()).hexdigest()
    env = stack.env(dbt_project_dir=project)
    run.build_manifest(env, project, tmp_path)
    with pytest.raises(run.StageFailed, match="DAG zlv_transform failed"):
        run.run_dag(stack, "zlv_transform", env)
    states = run.task_states(stack, "zlv_transform")
    assert states["dbt.stg_production__campaigns.run"] == "success"
    assert states["dbt.stg_production__campaigns.test"] == "failed"  # visible on the model's own task
    for downstream in ("dbt.int_campaign_housing_followup.run", "dbt.campaign_funnel.run"):
        assert states[downstream] in ("failed", "upstream_failed"), (downstream, states[downstream])
    assert states["dbt.stg_production__housing.run"] == "success"  # what does not depend on it still built
    assert states["rgpd_audit"] == "upstream_failed" and states["publish"] == "upstream_failed"
    assert hashlib.sha256(stack.paths.published_marts.read_bytes()).hexdigest() == before


def test_the_dbt_build_reports_each_model_and_its_tests_and_pushes_no_tests_event(first_run, stack, dbt_manifest):
    # ReportingProducer: each node's result once; the tests' own dbt events, which no task reads,
    # are not pushed (they were 155 of the build's ~280 XCom writes).
    keys = run.xcom_keys(stack, "zlv_transform", f"dbt.{dbt_rendering.PRODUCER_TASK}")
    models = [uid for uid, n in dbt_manifest["nodes"].items() if n["resource_type"] == "model"]
    for uid in models:
        key = uid.replace(".", "__")
        assert {f"{key}_status", f"{key}_dbt_event"} <= keys, uid
    assert any(k.endswith("_tests_status") for k in keys)
    assert not [k for k in keys if k.startswith("test__")]


def test_no_secret_in_the_dag_runs_output_the_warehouse_or_the_published_folder(first_run, stack, fault):
    # Every DAG run above (`airflow dags test` writes each task's log to the run's output) and
    # every file a reader opens, grepped for the test secrets by the fault ledger when this ends.
    fault.inject("secrets handed to every DAG of the pipeline, twice, and a failing run")
    outputs = sorted((stack.state_dir / "logs").glob("zlv_*.log"))
    assert {p.stem for p in outputs} >= set(run.DAG_ORDER)
    fault.watch(stack.state_dir / "logs", stack.paths.warehouse, stack.paths.published_dir)


def test_the_guides_warehouse_query_for_make_airflow_runs_as_written(first_run, stack, tmp_path):
    """docs/OPERATIONS.md's load-log query, from a checkout whose .state holds this run's warehouse."""
    import subprocess

    from zlv_dwh.settings import REPO_ROOT

    text = (REPO_ROOT / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")
    start = text.index("```bash\n", text.index("and with `make airflow` (or after `make demo`)")) + len("```bash\n")
    block = text[start : text.index("```", start)]
    checkout = tmp_path / "checkout"
    (checkout / ".state").mkdir(parents=True)
    (checkout / ".state" / "data").symlink_to(stack.paths.data_dir)
    (checkout / ".venv").symlink_to(REPO_ROOT / ".venv")
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", block], cwd=checkout, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]
    assert "table_name" in done.stdout and "success" in done.stdout
