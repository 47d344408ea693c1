"""`make lint` inside the suite, so CI (which runs `make test`) enforces it too."""

import subprocess
import sys
from pathlib import Path

import pytest

from zlv_dwh.settings import REPO_ROOT

RUFF = str(Path(sys.executable).with_name("ruff"))


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["ruff-check", "ruff-format"])
def test_python_code_is_clean(command):
    result = subprocess.run([RUFF, *command, "include", "dags", "tests"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
