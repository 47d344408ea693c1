#!/usr/bin/env bash
# Install the benchmark's peers (bench/requirements.txt) into the product venv .venv only when that
# changes no package already installed there (uv's dry run lists only "+" lines); otherwise build a
# separate bench/.venv-bench from ../requirements.txt + bench/requirements.txt, which the benchmark then uses
# for the pandas and dlt children. Run from the repository root: bash bench/install_peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
UV=.venv/bin/uv
test -x "$UV" || { echo "no $UV: run make venv first" >&2; exit 1; }
plan=$("$UV" pip install --python .venv/bin/python --dry-run -r bench/requirements.txt 2>&1)
echo "$plan"
if grep -qE '^ [-~] ' <<<"$plan"; then
    echo "bench peers would change packages of .venv: installing them into bench/.venv-bench instead"
    test -x bench/.venv-bench/bin/python || .venv/bin/python -m venv bench/.venv-bench
    "$UV" pip install --python bench/.venv-bench/bin/python -q -r requirements.txt -r bench/requirements.txt
else
    "$UV" pip install --python .venv/bin/python -q -r bench/requirements.txt
    echo "bench peers installed into .venv (no installed package changed)"
fi
