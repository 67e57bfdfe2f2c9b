#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, the servers the tests use, lint, pytest.
# Servers that tests start themselves (SeaweedFS, Dagster instances) are started by fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages the tests use: Tesseract (Cyrillic OCR engine), a TTF font for overlays,
# Chromium (renders the model report headless), the servers the production-stack tests
# start on loopback (PostgreSQL, Redis: fixtures run their own instances), and
# docker-compose to validate docker-compose.yml (no Docker engine needed), opencv-doc (real
# clips for the cut-detection accuracy tests), Caddy (validates and runs the authenticating
# proxy example of deploy/proxy/: the tests run their own instance on loopback), espeak-ng
# and pushover-data (TTS and real instrumental music for the speech-vs-music tests).
DEBIAN_PACKAGES="tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus fonts-dejavu-core chromium
  postgresql redis-server docker-compose opencv-doc caddy espeak-ng pushover-data
  fretsonfire-songs-sectoid fretsonfire-songs-muldjord asc-music hyperrogue-music
  drascula-music singularity-music mate-backgrounds xplanet-images"
# (fretsonfire..singularity-music, with pushover-data: real music for the tempo tests,
# tests/fixtures/real_music.py; mate-backgrounds and xplanet-images: photographs for the
# fresh held-out cut set, tests/accuracy/visual/broad_cut_set.py)
missing=$(for p in $DEBIAN_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  # no recommends: docker-compose would pull the Docker engine, which no test needs
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
bash scripts/setup.sh
bash scripts/setup_triton.sh >/dev/null  # the Triton test server, in its own venv
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}  # as `dp` sets it (dp_cli/main.py)
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
