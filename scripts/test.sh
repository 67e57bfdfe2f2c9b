#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, the servers the tests use, lint, pytest.
# Servers that tests start themselves (SeaweedFS, Dagster instances) are started by fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages the tests use: Tesseract (Cyrillic OCR engine), a TTF font for overlays,
# Chromium (renders the model report headless).
DEBIAN_PACKAGES="tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus fonts-dejavu-core chromium"
missing=$(for p in $DEBIAN_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing >/dev/null
fi
bash scripts/setup.sh
bash scripts/setup_triton.sh >/dev/null  # the Triton test server, in its own venv
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}  # as `dp` sets it (dp_cli/main.py)
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
