#!/usr/bin/env bash
# Install the benchmark's peers (bench/requirements.txt: pandas, dlt, ...) into their own venv,
# bench/.venv-bench, never into the product's .venv: with pandas importable, DuckDB's Python module
# imports it on the first query with parameters (~1.2 s here), a cost the product never pays, and
# the product's venv must stay exactly requirements.txt. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=.venv/bin/uv
test -x "$UV" || { echo "no $UV: run make venv first" >&2; exit 1; }
test -x bench/.venv-bench/bin/python || .venv/bin/python -m venv bench/.venv-bench
"$UV" pip install --python bench/.venv-bench/bin/python -q -r requirements.txt -r bench/requirements.txt
echo "bench peers installed into bench/.venv-bench"
