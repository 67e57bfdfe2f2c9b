"""MiDaS: monocular relative depth, one ONNX model.

Production model: MiDaS v2.1 small (MIT, isl-org/MiDaS, `midas_v21_small_256`), exported to
ONNX by `dp models export midas`. No weights exist offline (shared/MODELS.md):
`dp models pull midas` fetches them where a network exists; tests build a stand-in with
`dp models stand-in midas` (random weights, same I/O: dp_tools/stand_ins/midas.py).

ONNX I/O contract of a MiDaS model folder (batch dimension `batch` dynamic):
- `midas.onnx`: input `image` float32 [B, 3, 256, 256] (RGB / 255 stretched to 256 x 256
  with bicubic, ImageNet mean / std normalised: `dp_features.visual.model_inputs.
  midas_pixels`), output `depth` float32 [B, 256, 256]: relative inverse depth (bigger =
  nearer), up to an unknown scale and shift per image, not metres.
- `model.json` (optional, from the exporter): `{"name", "version", "precision"}`.
- `stand_in.json` (stand-in only): marks the folder as a test model with random weights;
  the model is then reported with `stand_in=True` and the name `midas-v2.1-small-stand-in`.

`DepthModel.depth` runs the model in batches of `batch_size`.

Folder loader and marker checks: `dp_resources/models/towers.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dp_core.artifact import ModelUsed
from dp_features.visual.model_inputs import MIDAS_SIZE, midas_pixels
from dp_resources.models.onnx_runtime import OnnxModel
from dp_resources.models.registry import ModelFamily, Tower, how_to_pull, model_folder
from dp_resources.models.towers import check_batch_size, run_in_batches
from dp_resources.models.triton_towers import TritonSettings, load_towers

DEPTH_SIZE = MIDAS_SIZE  # the output has the input's 256 x 256 grid
FAMILY = ModelFamily(
    "midas",
    "MiDaS",
    "midas-v2.1-small",
    how_to_pull("midas"),
    obtained_by="pull",
    towers=(Tower("midas.onnx", "", ("image",), ("depth",)),),
    reference="MiDaS v2.1 small",
    stand_in_name="midas-v2.1-small-stand-in",
)
(_TOWER,) = FAMILY.towers
MODEL_FILE, MODEL_INPUT, MODEL_OUTPUT = _TOWER.file, _TOWER.inputs[0], _TOWER.output
REAL_NAME = FAMILY.real_name
STAND_IN_NAME = FAMILY.stand_in_name


@dataclass
class DepthModel:
    """The MiDaS model; see the module docstring for the contract."""

    model: OnnxModel
    batch_size: int = 8

    def __post_init__(self) -> None:
        check_batch_size(FAMILY, self.batch_size)

    @property
    def models_used(self) -> list[ModelUsed]:
        return [self.model.model_used]

    @property
    def stand_in(self) -> bool:
        return self.model.model_used.stand_in

    def depth(self, frames: np.ndarray) -> np.ndarray:
        """float32 [n, 256, 256] relative inverse depth (bigger = nearer; no unit) of uint8
        RGB frames [n, H, W, 3] of any size, stretched to 256 x 256 (`midas_pixels`)."""
        frames = np.asarray(frames)
        return run_in_batches(
            self.model,
            len(frames),
            self.batch_size,
            lambda batch: {MODEL_INPUT: midas_pixels(frames[batch])},
            MODEL_OUTPUT,
            (DEPTH_SIZE, DEPTH_SIZE),
        )

    def depth_of_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Like `depth`, from already preprocessed `midas_pixels` [n, 3, 256, 256]."""
        pixels = np.asarray(pixels, dtype=np.float32)
        return run_in_batches(
            self.model,
            len(pixels),
            self.batch_size,
            lambda batch: {MODEL_INPUT: pixels[batch]},
            MODEL_OUTPUT,
            (DEPTH_SIZE, DEPTH_SIZE),
        )


def default_midas_dir() -> Path:
    """`$DP_MODEL_DIR/midas`, else `<model cache>/midas` (`$DP_MODEL_CACHE` or ~/.cache/...)."""
    return model_folder(FAMILY.name)


@FAMILY.loads
def load_midas(
    model_dir: Path | None = None,
    *,
    providers: tuple[str, ...] = ("CPUExecutionProvider",),
    batch_size: int = 8,
    intra_op_threads: int = 0,
    triton: TritonSettings | None = None,
) -> DepthModel:
    """The MiDaS model in `model_dir` (default `default_midas_dir()`): a real export or a
    stand-in folder (`stand_in.json`), reported as such."""
    loaded = load_towers(FAMILY, model_dir, providers, intra_op_threads, triton)
    return DepthModel(loaded.towers[""], batch_size=batch_size)
