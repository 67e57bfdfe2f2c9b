"""MiDaS: monocular relative depth, one ONNX model.

Production model: MiDaS v2.1 small (MIT, isl-org/MiDaS, `midas_v21_small_256`), exported to
ONNX by `dp models export midas`. No weights exist offline (shared/MODELS.md):
`dp models pull midas` fetches them where a network exists; tests build a stand-in with
`build_midas_stand_in` (random weights, same I/O).

ONNX I/O contract of a MiDaS model folder (batch dimension `batch` dynamic):
- `midas.onnx`: input `image` float32 [B, 3, 256, 256] (RGB / 255 stretched to 256 x 256
  with bicubic, ImageNet mean / std normalised: `dp_features.visual.model_inputs.
  midas_pixels`), output `depth` float32 [B, 256, 256]: relative inverse depth (bigger =
  nearer), up to an unknown scale and shift per image, not metres.
- `model.json` (optional, from the exporter): `{"name", "version", "precision"}`.
- `stand_in.json` (stand-in only): marks the folder as a test model with random weights;
  the model is then reported with `stand_in=True` and the name `midas-v2.1-small-stand-in`.

`DepthModel.depth` runs the model in batches of `batch_size`.

The stand-in keeps the real family's shape at toy scale (MiDaS small is a convolutional
encoder-decoder): four stride-2 3 x 3 convolutions with ReLU (256 -> 16 x 16), a decoder
convolution, a bilinear upsampling x 4 added to the 64 x 64 encoder features (a skip
connection), a 1-channel convolution (non-negative weights, so the map is mostly positive
as a trained model's), a bilinear upsampling back to 256 x 256 and a final ReLU (depth is
never negative). Weights come from numpy's generator with a fixed seed: the
same seed gives the same bytes. Its depth means nothing; it exists to drive the real code
path. Folder loader, marker checks and builder: `stand_in_graphs.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dp_core.artifact import ModelUsed
from dp_features.visual.model_inputs import MIDAS_SIZE, midas_pixels
from dp_resources.models.onnx_runtime import OnnxModel
from dp_resources.models.towers import (
    ModelFamily,
    Tower,
    bias,
    build_stand_in_folder,
    check_batch_size,
    const,
    default_model_dir,
    run_in_batches,
    stand_in_model,
    weights,
)
from dp_resources.models.triton_towers import TritonSettings, load_towers

DEPTH_SIZE = MIDAS_SIZE  # the output has the input's 256 x 256 grid
MODEL_FILE = "midas.onnx"
MODEL_INPUT = "image"
MODEL_OUTPUT = "depth"

REAL_NAME = "midas-v2.1-small"
STAND_IN_NAME = "midas-v2.1-small-stand-in"
FAMILY = ModelFamily(
    key="midas",
    label="MiDaS",
    module="dp_resources/models/families/midas.py",
    towers=(Tower(MODEL_FILE, "", (MODEL_INPUT,), MODEL_OUTPUT),),
    real_name=REAL_NAME,
    reference="MiDaS v2.1 small",
    stand_in_name=STAND_IN_NAME,
    stand_in_format=1,  # bump when the stand-in graph changes
)

# (output channels, input channels) of the stand-in's encoder convolutions, each stride 2.
_ENCODER = ((16, 3), (32, 16), (64, 32), (64, 64))
_DECODER_CHANNELS = 32  # = the second encoder stage's, for the skip connection


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
    return default_model_dir(FAMILY.key)


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


# --- the stand-in -------------------------------------------------------------------------


def build_midas_stand_in(model_dir: Path, seed: int = 0) -> Path:
    """Write a STAND-IN MiDaS model folder (random weights from `seed`, the real I/O
    contract, a `stand_in.json` marker) at `model_dir`, atomically; returns `model_dir`.
    Refuses to overwrite a folder that holds a real model."""
    return build_stand_in_folder(model_dir, FAMILY, seed, _stand_in_graphs, _STAND_IN_NOTES)


_STAND_IN_NOTES = {"note": "random weights for tests; depth maps carry no meaning"}


def _stand_in_graphs(rng: np.random.Generator) -> dict[str, onnx.ModelProto]:
    return {MODEL_FILE: _stand_in_graph(rng)}


def _conv(rng: np.random.Generator, name: str, channels: tuple[int, int]) -> list[onnx.TensorProto]:
    """3 x 3 weights (He-scaled: ReLU keeps the activations' size) and a bias."""
    out_channels, in_channels = channels
    scale = np.sqrt(2.0 / (in_channels * 9))
    return [
        weights(rng, f"{name}_w", (out_channels, in_channels, 3, 3), scale=scale),
        bias(rng, f"{name}_b", out_channels),
    ]


def _stand_in_graph(rng: np.random.Generator) -> onnx.ModelProto:
    node = helper.make_node
    initializers: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def conv_relu(name: str, source: str, channels: tuple[int, int], stride: int) -> str:
        initializers.extend(_conv(rng, name, channels))
        nodes.append(
            node(
                "Conv",
                [source, f"{name}_w", f"{name}_b"],
                [f"{name}_raw"],
                kernel_shape=[3, 3],
                strides=[stride, stride],
                pads=[1, 1, 1, 1],
            )
        )
        nodes.append(node("Relu", [f"{name}_raw"], [name]))
        return name

    features = MODEL_INPUT
    stages = []
    for i, channels in enumerate(_ENCODER):  # 256 -> 128 -> 64 -> 32 -> 16
        features = conv_relu(f"encoder{i}", features, channels, stride=2)
        stages.append(features)
    decoded = conv_relu("decoder", features, (_DECODER_CHANNELS, _ENCODER[-1][0]), stride=1)
    initializers += [
        const("up4", np.array([1, 1, 4, 4], np.float32)),
        const("channel_axis", np.array([1], np.int64)),
    ]
    resize = {"mode": "linear", "coordinate_transformation_mode": "align_corners"}
    nodes += [
        node("Resize", [decoded, "", "up4"], ["decoded_64"], **resize),  # 16 -> 64
        node("Add", ["decoded_64", stages[1]], ["fused"]),  # skip from the 64 x 64 stage
    ]
    # Non-negative head weights over non-negative features: the map is mostly positive (as a
    # trained model's) rather than half cut off by the final ReLU.
    head_w, head_b = _conv(rng, "head", (1, _DECODER_CHANNELS))
    initializers += [const("head_w", np.abs(numpy_helper.to_array(head_w))), head_b]
    nodes += [
        node("Conv", ["fused", "head_w", "head_b"], ["head"], kernel_shape=[3, 3], pads=[1] * 4),
        node("Resize", ["head", "", "up4"], ["head_256"], **resize),  # 64 -> 256
        node("Relu", ["head_256"], ["depth_4d"]),
        node("Squeeze", ["depth_4d", "channel_axis"], [MODEL_OUTPUT]),
    ]
    graph = helper.make_graph(
        nodes,
        "midas_stand_in",
        [
            helper.make_tensor_value_info(
                MODEL_INPUT, TensorProto.FLOAT, ["batch", 3, MIDAS_SIZE, MIDAS_SIZE]
            )
        ],
        [
            helper.make_tensor_value_info(
                MODEL_OUTPUT, TensorProto.FLOAT, ["batch", DEPTH_SIZE, DEPTH_SIZE]
            )
        ],
        initializers,
    )
    return stand_in_model(graph, FAMILY)
