from pathlib import Path

from zlv_dwh import airflow_settings
from zlv_dwh.settings import DUCKDB_POOL, REPO_ROOT

SETTINGS = REPO_ROOT / "airflow_settings.yaml"


def test_the_duckdb_pool_has_exactly_one_slot():
    pools = airflow_settings.pools(airflow_settings.read(SETTINGS))
    assert pools[DUCKDB_POOL]["slots"] == 1


def test_variables_come_from_the_environment_or_are_skipped(monkeypatch):
    settings = airflow_settings.read(SETTINGS)
    monkeypatch.delenv("ZLV_PSEUDONYMISATION_KEY", raising=False)
    values, skipped = airflow_settings.variables(settings)
    assert "zlv_pseudonymisation_key" not in values and skipped
    monkeypatch.setenv("ZLV_PSEUDONYMISATION_KEY", "from-env")
    monkeypatch.setenv("ZLV_ALERT_RECIPIENTS", "data@zlv.example")
    values, skipped = airflow_settings.variables(settings)
    assert values["zlv_pseudonymisation_key"] == "from-env" and not skipped
    assert values["zlv_alert_recipients"] == "data@zlv.example"


def test_no_secret_value_is_written_in_the_settings_file():
    text = Path(SETTINGS).read_text()
    assert "password:" not in text and "conn_password" not in text and "secret_access_key" not in text
