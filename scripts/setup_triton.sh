#!/usr/bin/env bash
# Idempotent set-up of the Triton test server: `.venv-triton` in the repo root, holding
# `nvidia-pytriton` (which ships `tritonserver` with the Python backend only) and onnxruntime
# for the Python-backend models that wrap ONNX files (the CPU test double of production's
# onnxruntime / tensorrt_plan backends). Its own venv because pytriton pins numpy 1.26.
# Prints the path of the `tritonserver` binary.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV=.venv-triton
PACKAGES=(nvidia-pytriton==0.7.0 numpy==1.26.4 onnxruntime==1.32.0)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# Skip pip when every pin is already there (a re-run costs well under a second).
if ! "$VENV/bin/python" - "${PACKAGES[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name, wanted = pin.split("==")
    if version(name) != wanted:
        sys.exit(1)
PY
then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "${PACKAGES[@]}"
fi
DIST=$("$VENV/bin/python" -c \
    'import pathlib, pytriton; print(pathlib.Path(pytriton.__file__).parent / "tritonserver")')
SERVER="$DIST/bin/tritonserver"
[ -x "$SERVER" ] || { echo "tritonserver not found at $SERVER" >&2; exit 1; }
# pytriton ships one Python-backend stub per Python version and copies the matching one
# next to libtriton_python.so at start-up; we do the same once, into a backend directory of
# our own that tests pass as --backend-directory.
BACKENDS="$VENV/triton-backends"
PY_VERSION=$("$VENV/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
mkdir -p "$BACKENDS/python"
cp -u "$DIST/backends/python/libtriton_python.so" "$DIST/backends/python/triton_python_backend_utils.py" \
    "$BACKENDS/python/"
cp -u "$DIST/python_backend_stubs/$PY_VERSION/triton_python_backend_stub" "$BACKENDS/python/"
echo "$SERVER"
