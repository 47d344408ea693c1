"""The dbt documentation site, served by Airflow's API server behind Airflow's own login.

Cosmos's docs plugin answers anyone (the manifest and catalog describe the whole warehouse), so it
is not configured; this app serves the same generated files only to a request carrying an Airflow
login: the UI's session cookie, or a bearer token from /auth/token. Anonymous requests get 401."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

from zlv_dwh.settings import Paths

URL_PREFIX = "/zlv/dbt_docs"
# What `dbt docs generate --static` and the plain site write; nothing else of the folder is served.
SERVED_FILES = ("static_index.html", "index.html", "manifest.json", "catalog.json")


def create_app(docs_dir: Path | None = None) -> FastAPI:
    from airflow.api_fastapi.core_api.security import get_user  # the API server's login check

    app = FastAPI(dependencies=[Depends(get_user)], docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse(f"{URL_PREFIX}/static_index.html")

    @app.get("/{name}")
    def docs_file(name: str) -> FileResponse:
        if name not in SERVED_FILES:
            raise HTTPException(status_code=404, detail="not a dbt docs file")
        path = (docs_dir or Paths.from_env().dbt_docs_dir) / name
        if not path.is_file():
            raise HTTPException(status_code=404, detail="dbt docs not generated yet: they are built by zlv_transform")
        return FileResponse(path)

    return app
