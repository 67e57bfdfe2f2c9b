#!/usr/bin/env bash
# Mutation testing of the core modules (benchmarks/mutation.py): not part of CI.
# Usage: bash scripts/mutation.sh [core|loudness|loudness_parts|reuse|cuts|tempo ...]
#        [--sample N] [--recheck] [--max-children N] [--work DIR]
# Prints the kill rate per module. Niced; bounded by the fast test selection of each group.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
# mutmut, pinned in the [mutation] extra (read from pyproject.toml, installed into .venv)
pin=$(.venv/bin/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["mutation"])')
.venv/bin/python -m pip install --quiet $pin
export OPENBLAS_NUM_THREADS=1
exec nice -n 15 .venv/bin/python benchmarks/mutation.py "$@"
