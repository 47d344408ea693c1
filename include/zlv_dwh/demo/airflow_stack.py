"""Airflow's real components on this machine: API server, scheduler, DAG processor, triggerer,
LocalExecutor, a PostgreSQL metadata database — what `make airflow` starts for a person and what
the scheduler test drives through the REST API.

    python -m zlv_dwh.demo.airflow_stack      # make airflow: demo sources + Airflow, until Ctrl-C
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from zlv_dwh.demo import services
from zlv_dwh.demo.run import BIN, Stack, prepare_airflow, say, start_demo_sources
from zlv_dwh.settings import REPO_ROOT

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
USER = "support"


class AirflowStackError(RuntimeError):
    """A component did not start or a wait ran out; the message names which, with its log tail."""


@dataclass
class AirflowStack:
    """The components of one Airflow, its home and metadata database; `stop()` always cleans up."""

    stack: Stack
    metadata_url: str  # postgresql+psycopg2://... (a database of its own)
    port: int = field(default_factory=services.free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _token: str | None = None

    @property
    def home(self) -> Path:
        return self.stack.state_dir / "airflow"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def password_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json"

    def password(self) -> str:
        return json.loads(self.password_file.read_text())[USER]

    def env(self) -> dict[str, str]:
        env = self.stack.env()
        env.update(
            {
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.password_file),
                "AIRFLOW__API__PORT": str(self.port),
                # loopback only unless ZLV_AIRFLOW_HOST says otherwise (e.g. 0.0.0.0 behind a proxy)
                "AIRFLOW__API__HOST": os.environ.get("ZLV_AIRFLOW_HOST", "127.0.0.1"),
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt_secret"),
                "AIRFLOW__API__SECRET_KEY": self._secret("api_secret"),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
                "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "30",
                **self.extra_env,
            }
        )
        return env

    @property
    def env_file(self) -> Path:
        return self.home / "env"

    def write_env_file(self, mailbox: Path | None = None) -> Path:
        """What the operator's guide sources (`set -a; . .state/airflow/env; set +a`): the UI's
        address and the support login, so its REST commands run as written. Mode 600: it holds
        the password."""
        lines = [
            f"ZLV_AIRFLOW_URL={self.url}",
            f"ZLV_AIRFLOW_USER={USER}",
            f"ZLV_AIRFLOW_PASSWORD={self.password()}",
        ]
        if mailbox is not None:
            lines.append(f"ZLV_MAILBOX_DIR={mailbox}")
        self.env_file.parent.mkdir(parents=True, exist_ok=True)
        self.env_file.write_text("\n".join(lines) + "\n")
        os.chmod(self.env_file, 0o600)
        return self.env_file

    def _secret(self, name: str) -> str:
        """Stable per home (every component must share them), random, never in code."""
        path = self.home / f".{name}"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            os.chmod(path, 0o600)
        return path.read_text()

    def prepare(self) -> None:
        """Metadata DB, settings (pools, variables), login, dbt manifest: what the components need."""
        env = self.env()
        if not self.password_file.exists():
            self.password_file.parent.mkdir(parents=True, exist_ok=True)
            self.password_file.write_text(json.dumps({USER: secrets.token_urlsafe(12)}))
            os.chmod(self.password_file, 0o600)
        prepare_airflow(self.stack, env)  # the same migrate + settings + manifest as the demo

    def start(self) -> None:
        env = self.env()
        log_dir = self.stack.state_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        for component in COMPONENTS:
            out = open(log_dir / f"airflow_{component}.log", "ab")  # noqa: SIM115 - closed with the process
            self.processes[component] = subprocess.Popen(
                [str(BIN / "airflow"), component],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,
            )

    def log_tail(self, component: str, lines: int = 20) -> str:
        path = self.stack.state_dir / "logs" / f"airflow_{component}.log"
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:]) if path.exists() else ""

    def _check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise AirflowStackError(f"airflow {name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def wait_ready(self, dag_ids: set[str], timeout_s: float = 180) -> None:
        """Until the API answers and the DAG processor has parsed the given DAGs."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                found = {d["dag_id"] for d in self.api("GET", "/api/v2/dags?limit=100")["dags"]}
                if dag_ids <= found:
                    return
            except (urllib.error.URLError, ConnectionError, AirflowStackError):
                pass
            time.sleep(2)
        raise AirflowStackError(f"DAGs {sorted(dag_ids)} not parsed within {timeout_s:.0f}s:\n{self.log_tail('dag-processor')}")

    def token(self) -> str:
        if self._token is None:
            body = json.dumps({"username": USER, "password": self.password()}).encode()
            request = urllib.request.Request(f"{self.url}/auth/token", data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                self._token = json.loads(response.read())["access_token"]
        return self._token

    def api(self, method: str, path: str, payload: dict | None = None) -> dict:
        """Call the public REST API as the support team would (JWT from the simple auth manager)."""
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            data=json.dumps(payload).encode() if payload is not None else None,
            headers={"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise AirflowStackError(f"{method} {path}: HTTP {exc.code} {exc.read()[:300]!r}") from None

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        run = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=-start_date&limit=20")["dag_runs"]

    def wait_run(self, dag_id: str, run_id: str | None = None, timeout_s: float = 600, until=("success", "failed")) -> dict:
        """Until the run (or, without run_id, the latest run of the DAG) reaches a final state."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            runs = self.runs(dag_id)
            run = next((r for r in runs if r["dag_run_id"] == run_id), None) if run_id else (runs[0] if runs else None)
            if run and run["state"] in until:
                return run
            time.sleep(3)
        raise AirflowStackError(
            f"{dag_id} run {run_id or '(latest)'} not finished within {timeout_s:.0f}s:\n{self.log_tail('scheduler')}"
        )

    def wait_idle(self, dag_id: str, queued_after: str = "", timeout_s: float = 900) -> list[dict]:
        """Until the DAG has a run queued after `queued_after` (ISO time) and none is queued or
        running; returns the runs, newest first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            runs = self.runs(dag_id)
            fresh = any((r.get("queued_at") or "") > queued_after for r in runs)
            if fresh and all(r["state"] not in ("queued", "running") for r in runs):
                return runs
            time.sleep(3)
        raise AirflowStackError(f"{dag_id} still busy after {timeout_s:.0f}s:\n{self.log_tail('scheduler')}")

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM every component's process group (tasks included), SIGKILL what is left."""
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.processes.clear()


def main() -> int:
    """`make airflow`: the demo sources, then Airflow's components until Ctrl-C."""
    state_dir = Path(os.environ.get("ZLV_STATE_DIR", REPO_ROOT / ".state")).resolve()
    started: list[services.Service] = []
    airflow = None
    try:
        stack, pg_admin_url = start_demo_sources(state_dir, 42, int(os.environ.get("ZLV_DEMO_SCALE", 2000)), started)
        mailbox_dir = state_dir / "mailbox"
        mailbox = services.start_mailbox(mailbox_dir, say)
        started.append(mailbox)
        stack.smtp = ("127.0.0.1", int(mailbox.url.rsplit(":", 1)[1]))
        stack.alert_recipients = stack.alert_recipients or "support@zlv.localhost"
        metadata = services.recreate_database(pg_admin_url, "zlv_airflow_metadata")
        airflow = AirflowStack(stack, metadata.replace("postgresql://", "postgresql+psycopg2://", 1))
        say("Airflow: preparing the metadata database, settings and dbt manifest")
        airflow.prepare()
        airflow.start()
        airflow.wait_ready({"zlv_ingest_production", "zlv_transform"})
        env_file = airflow.write_env_file(mailbox_dir)
        say(f"Airflow is up: {airflow.url}  (login: {USER} / {airflow.password()})")
        say(f"For the operator's guide's commands: set -a; . {env_file}; set +a")
        say(f"Alert e-mails to {stack.alert_recipients}: saved in {mailbox_dir}/ (one .eml file each)")
        say("Running on their own (unpaused, Europe/Paris; each starts its latest interval once now):")
        say("  zlv_ingest_production 02:00 daily, zlv_ingest_locomvac / zlv_ingest_ff 03:00 Mondays,")
        say("  zlv_refresh_referentials 04:00 on 1 February, zlv_transform after every load and at 06:00")
        say("  (its 06:00 run is skipped, not red, until the sources have loaded, or with nothing new).")
        say("Trigger zlv_ingest_production, zlv_ingest_locomvac and zlv_ingest_ff from the UI; Ctrl-C stops everything.")
        while True:
            airflow._check_alive()
            time.sleep(5)
    except KeyboardInterrupt:
        say("stopping")
    except services.PrerequisiteMissing as exc:
        print(f"\nMissing prerequisite: {exc}", file=sys.stderr)
        return 2
    finally:
        if airflow is not None:
            airflow.stop()
        for service in reversed(started):
            service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
