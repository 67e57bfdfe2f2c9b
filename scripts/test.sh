#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, the servers the tests use, lint, pytest.
# Servers that tests start themselves (SeaweedFS, Dagster instances) are started by fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}  # as `dp` sets it (dp_cli/main.py)
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
