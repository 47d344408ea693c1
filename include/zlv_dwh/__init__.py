"""ZLV analytics warehouse: ingestion, RGPD audit and publication, free of Airflow imports."""
