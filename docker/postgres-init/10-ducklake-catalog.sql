-- Run once by the postgres image on a new volume: the database that holds the DuckLake catalog
-- when ZLV_WAREHOUSE_BACKEND=ducklake (docs/DUCKLAKE.md). Unused on the DuckDB file backend.
CREATE DATABASE zlv_lake;
