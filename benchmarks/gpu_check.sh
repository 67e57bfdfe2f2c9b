#!/usr/bin/env bash
# The GPU check of issue 19 in one command, on a machine with an NVIDIA GPU (CUDA 13 driver,
# e.g. an H100 / H200) and access to PyPI:
#
#     bash benchmarks/gpu_check.sh                 # install the `gpu` extra, measure (~10 min)
#     bash benchmarks/gpu_check.sh --cpu-dry-run   # no install: the script itself, on the CPU
#
# 1. installs the platform with the `gpu` extra (pyproject.toml: onnxruntime-gpu[cuda,cudnn],
#    tensorrt) into $VENV (default .venv-gpu), and swaps onnxruntime for onnxruntime-gpu: both
#    own the `onnxruntime` module, so the CPU one must go and the GPU one be reinstalled;
# 2. sets up the Triton server venv (scripts/setup_triton.sh: nvidia-pytriton) and swaps its
#    onnxruntime for onnxruntime-gpu the same way (its Python-backend models run the ONNX);
# 3. runs benchmarks/gpu_check.py: full-size stand-ins, CLIP images/s through onnxruntime
#    CUDA fp32/fp16, a TensorRT engine (`dp models trt`), Triton with 1/4/16 clients,
#    cross-video batching, and `gpu_triton` end to end; one table, JSON in $OUT if set.
# Each stage has its own timeout inside gpu_check.py; a failed stage does not stop the others.
#
# Wheels: onnxruntime-gpu[cuda,cudnn] (~0.3 GB + CUDA 13 runtime / cuDNN ~1 GB) and tensorrt
# (~1.5 GB): a machine that cannot reach PyPI needs them from a local wheel folder
# (PIP_FIND_LINKS=/path PIP_NO_INDEX=1). This project's lent device machines cannot reach PyPI
# and take at most 64 MiB of carried files, so the script cannot install there as is.
set -uo pipefail
cd "$(dirname "$0")/.."

DRY_RUN=0
for arg in "$@"; do [ "$arg" = "--cpu-dry-run" ] && DRY_RUN=1; done
LIMIT_S=${GPU_CHECK_LIMIT_S:-1800}

if [ "$DRY_RUN" = 1 ]; then
    VENV=${VENV:-.venv}
    [ -x "$VENV/bin/python" ] || { echo "no $VENV: install the platform first" >&2; exit 1; }
    bash scripts/setup_triton.sh >/dev/null \
        || echo "Triton venv set-up failed: its stages will fail" >&2
else
    PYTHON=${PYTHON:-python3.11}
    command -v "$PYTHON" >/dev/null || PYTHON=python3
    VENV=${VENV:-.venv-gpu}
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    # The onnxruntime-gpu requirement as pyproject's `gpu` extra pins it (one place to change).
    ORT_GPU=$("$VENV/bin/python" - <<'PY'
import re, tomllib
extra = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["gpu"]
print(next(r for r in extra if re.match(r"onnxruntime-gpu\b", r)))
PY
)
    ORT_GPU_BARE=$(echo "$ORT_GPU" | sed 's/\[[^]]*\]//')  # without its extras
    # tensorrt-cu13-libs on PyPI is a placeholder that fetches the wheel from NVIDIA's index
    export PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL:-https://pypi.nvidia.com}
    echo "installing .[test,gpu] into $VENV ($ORT_GPU)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".[test,gpu]" \
        || { echo "install failed" >&2; exit 1; }
    "$VENV/bin/python" -m pip uninstall --quiet -y onnxruntime
    "$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps "$ORT_GPU_BARE"
    bash scripts/setup_triton.sh >/dev/null \
        || echo "Triton venv set-up failed: its stages will fail" >&2
    .venv-triton/bin/python -m pip install --quiet "$ORT_GPU" \
        && .venv-triton/bin/python -m pip uninstall --quiet -y onnxruntime \
        && .venv-triton/bin/python -m pip install --quiet --force-reinstall --no-deps \
            "$ORT_GPU_BARE" \
        || echo "onnxruntime-gpu in .venv-triton failed: the Triton stages will fail" >&2
    # CUDA / cuDNN from the nvidia-* wheels, for onnxruntime's CUDA provider (the Triton
    # models call onnxruntime.preload_dlls() themselves: the server sets its own paths).
    SITE=$(echo "$VENV"/lib/python3*/site-packages)
    NVIDIA_LIBS=$(ls -d "$SITE"/nvidia/*/lib "$SITE"/nvidia/*/*/lib 2>/dev/null | paste -sd:)
    export LD_LIBRARY_PATH="${NVIDIA_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi

export PYTHONUNBUFFERED=1
timeout --kill-after=30 "$LIMIT_S" "$VENV/bin/python" -m benchmarks.gpu_check "$@"
