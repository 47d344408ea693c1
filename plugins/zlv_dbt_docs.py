"""Airflow plugin: the dbt docs under Browse, behind Airflow's login (zlv_dwh.dbt_docs_app)."""

from airflow.plugins_manager import AirflowPlugin

from zlv_dwh import dbt_docs_app


class ZlvDbtDocsPlugin(AirflowPlugin):
    name = "zlv_dbt_docs"
    fastapi_apps = [{"name": "zlv_dbt_docs", "app": dbt_docs_app.create_app(), "url_prefix": dbt_docs_app.URL_PREFIX}]
    external_views = [{"name": "dbt docs (ZLV)", "category": "Browse", "href": f"{dbt_docs_app.URL_PREFIX}/static_index.html"}]
