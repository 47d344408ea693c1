# Airflow image of the ZLV analytics warehouse, used by every Airflow service of docker-compose.yaml.
FROM apache/airflow:3.3.2-python3.11

# The official image runs as `airflow` (uid 50000, gid 0) in AIRFLOW_HOME=/opt/airflow.
USER airflow

# Dependencies first (cached while requirements.txt is unchanged). Airflow itself is pinned to
# the image's version so that no requirement can move it.
COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/airflow/requirements.txt

COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 include /opt/airflow/include
COPY --chown=airflow:0 plugins /opt/airflow/plugins
COPY --chown=airflow:0 airflow_settings.yaml /opt/airflow/airflow_settings.yaml

ENV PYTHONPATH=/opt/airflow/include \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    DBT_VERSION_CHECK=False

# The data and backup folders exist in the image, owned by airflow, so that a new named volume
# mounted there (`warehouse`, `backups`) starts with the right owner (and `published` sub-folder).
RUN mkdir -p /opt/airflow/data/published /opt/airflow/backups && chmod 700 /opt/airflow/backups

# Parse the dbt project once at build time: cosmos renders the DAGs from this manifest, which the
# DAGs check against the project files (zlv_dwh.dbt_project) so a stale one is refused.
# The DuckDB file named here is a throw-away; parsing does not touch the real warehouse.
ARG DBT_DIR=/opt/airflow/include/dbt
RUN export ZLV_WAREHOUSE_PATH=/tmp/parse.duckdb DBT_LOG_PATH=/tmp/dbt-logs \
    && if [ -f "${DBT_DIR}/packages.yml" ] || [ -f "${DBT_DIR}/dependencies.yml" ]; then \
         dbt deps --project-dir "${DBT_DIR}" --profiles-dir "${DBT_DIR}"; \
       fi \
    && ZLV_DBT_PROJECT_DIR="${DBT_DIR}" PYTHONPATH=/opt/airflow/include python -m zlv_dwh.dbt_project build \
    && rm -rf /tmp/parse.duckdb /tmp/dbt-logs
