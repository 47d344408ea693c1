"""Child-process machinery shared by the benchmarks in bench/: one method per child process, its
peak RSS read with os.wait4.

Linux carries a parent's peak RSS across fork+exec into the child's ru_maxrss, so an orchestrator
using this module must stay light: this module imports only light stdlib modules, and a benchmark
script imports its heavy modules (duckdb, psycopg, boto3, importlib.metadata...) inside its child
functions only. A benchmark script is run both as the orchestrator and, with
`--child METHOD PARAMS OUT`, as each child: `Runner(script, ...)` spawns `script --child ...`, and the
script hands those three arguments to `child_main(CHILDREN, ...)`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
INCLUDE = REPO / "include"
RESULTS_DIR = BENCH_DIR / "results"
SEPARATE_VENV_PYTHON = BENCH_DIR / ".venv-bench" / "bin" / "python"
INSTALL_HINT = "bash bench/install_peers.sh"


def child_main(children: dict, method: str, params_file: str, out_file: str) -> int:
    """In the child: run children[method](params) and write its JSON result (or the error)."""
    params = json.loads(Path(params_file).read_text())
    try:
        result = children[method](params)
        code = 0
    except Exception as exc:  # reported to the orchestrator, which goes on with the next method
        import traceback

        traceback.print_exc()
        result, code = {"error": f"{type(exc).__name__}: {exc}"}, 1
    Path(out_file).write_text(json.dumps(result, default=str))
    return code


def package_versions(names: tuple[str, ...]) -> dict:
    """Package versions as this interpreter sees them; call it in a child (importlib.metadata is heavy)."""
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name.replace("-", "_")] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name.replace("-", "_")] = None
    return out


class Runner:
    """Spawns children (`script --child METHOD PARAMS OUT`) and reads their peak RSS with os.wait4;
    stops one that outlives the timeout."""

    def __init__(self, script: Path, workdir: Path, base_params: dict, timeout_s: float, peer_python: str):
        self.script = Path(script).resolve()
        self.workdir, self.base, self.timeout_s, self.peer_python = workdir, base_params, timeout_s, peer_python
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(INCLUDE), os.environ.get("PYTHONPATH")]))}
        self.count = 0

    def _wait(self, proc: subprocess.Popen, label: str) -> tuple[int, float, float]:
        started = time.perf_counter()
        deadline = started + self.timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen never waits on a reaped pid
                return proc.returncode, time.perf_counter() - started, usage.ru_maxrss / 1024
            if time.perf_counter() > deadline:
                print(f"  {label}: over --timeout {self.timeout_s:.0f}s, stopping it", flush=True)
                os.kill(proc.pid, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.05)

    def run(self, method: str, python: str | None = None, **params) -> dict:
        """Run child_<method> of the script in a fresh interpreter; its result plus rss_mb and wall_s."""
        self.count += 1
        stem = self.workdir / f"{self.count:02d}_{method}"
        Path(f"{stem}.params.json").write_text(json.dumps({**self.base, **params}))
        cmd = [python or sys.executable, str(self.script), "--child", method, f"{stem}.params.json", f"{stem}.out.json"]
        with open(f"{stem}.log", "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=REPO)
            code, wall, rss = self._wait(proc, method)
        out_path = Path(f"{stem}.out.json")
        result = json.loads(out_path.read_text()) if out_path.exists() else {"error": f"child exited {code} without a result"}
        if code != 0 and "error" not in result:
            result["error"] = f"child exited {code}"
        if "error" in result:
            tail = Path(f"{stem}.log").read_text(errors="replace").strip().splitlines()[-15:]
            result["log_tail"] = tail
            print(f"  {method} FAILED: {result['error']}\n    " + "\n    ".join(tail), flush=True)
        return {**result, "rss_mb": rss, "wall_s": wall}

    def run_command(self, cmd: list[str], label: str, log: Path) -> tuple[int, float, float]:
        """Run a program as the child itself (its RSS is the program's); (exit code, seconds, peak RSS MB)."""
        with open(log, "wb") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=self.env)
            return self._wait(proc, label)


def machine_facts() -> dict:
    """Cores, CPU, memory, kernel and Python, read from /proc and the stdlib (no child needed)."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line), None
    )
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
    }


def machine_info(runner: Runner, peer_python: str, peer_packages: tuple[str, ...]) -> dict:
    """machine_facts plus the package versions read by the script's `versions` child, the peers'
    (peer_packages) read with peer_python when that is another interpreter."""
    info = machine_facts()
    versions = runner.run("versions")
    if peer_python != sys.executable:
        peers = runner.run("versions", python=peer_python)
        versions.update({k: peers.get(k) for k in peer_packages})
    info.update({k: v for k, v in versions.items() if k not in ("rss_mb", "wall_s")})
    return info


def file_mb(path: Path) -> float | None:
    return path.stat().st_size / 1e6 if path.exists() else None


def _fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def utc_stamp() -> str:
    """Timestamp for the working folder and the results file, e.g. 20261124T235412Z."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def hold_until_released(ready_file: str | Path, info: dict) -> str:
    """Child side of a HeldChild: publish `info` atomically (the orchestrator never reads a half-
    written file), then block until the orchestrator closes standard input; returns what it wrote
    (`keep` or `stop`)."""
    ready = Path(ready_file)
    Path(f"{ready}.tmp").write_text(json.dumps(info))
    os.replace(f"{ready}.tmp", ready)
    return sys.stdin.read().strip()


class HeldChild:
    """A child that outlives the measured ones (it holds services for the run), so not Runner.run:
    started with `script --child METHOD`, ready when it has written its info file, stopped (or told
    to keep what it started) through its standard input."""

    def __init__(self, runner: Runner, method: str, params: dict, timeout_s: float, stop_timeout_s: float):
        self.ready = runner.workdir / f"{method}.ready.json"
        self.stop_timeout_s = stop_timeout_s
        params_file = runner.workdir / f"{method}.params.json"
        params_file.write_text(json.dumps({**params, "ready_file": str(self.ready)}))
        log_path = runner.workdir / f"{method}.log"
        self.log = open(log_path, "wb")  # noqa: SIM115 (closed in stop)
        cmd = [
            sys.executable,
            str(runner.script),
            "--child",
            method,
            str(params_file),
            str(runner.workdir / f"{method}.out.json"),
        ]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT, env=runner.env, cwd=REPO
        )
        deadline = time.monotonic() + timeout_s
        while not self.ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {method} child did not start: see {log_path}")
            time.sleep(0.1)
        self.info = json.loads(self.ready.read_text())
        self.ready.unlink()  # it may hold (demo) credentials

    def stop(self, keep: bool = False) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"keep" if keep else b"stop")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
