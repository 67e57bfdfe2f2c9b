"""The MiDaS stand-in: random weights with the real I/O contract (dp_resources/models/families/midas.py).

It keeps the real family's shape at toy scale (MiDaS small is a convolutional
encoder-decoder): four stride-2 3 x 3 convolutions with ReLU (256 -> 16 x 16), a decoder
convolution, a bilinear upsampling x 4 added to the 64 x 64 encoder features (a skip
connection), a 1-channel convolution (non-negative weights, so the map is mostly positive
as a trained model's), a bilinear upsampling back to 256 x 256 and a final ReLU (depth is
never negative). Its depth means nothing; it exists to drive the real code path.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dp_features.visual.model_inputs import MIDAS_SIZE
from dp_resources.models.families.midas import (
    DEPTH_SIZE,
    FAMILY,
    MODEL_FILE,
    MODEL_INPUT,
    MODEL_OUTPUT,
)
from dp_tools.stand_ins.common import (
    StandIn,
    bias,
    const,
    stand_in_model,
    weights,
)

# (output channels, input channels) of the stand-in's encoder convolutions, each stride 2.
_ENCODER = ((16, 3), (32, 16), (64, 32), (64, 64))
_DECODER_CHANNELS = 32  # = the second encoder stage's, for the skip connection


def _conv(rng: np.random.Generator, name: str, channels: tuple[int, int]) -> list[onnx.TensorProto]:
    """3 x 3 weights (He-scaled: ReLU keeps the activations' size) and a bias."""
    out_channels, in_channels = channels
    scale = np.sqrt(2.0 / (in_channels * 9))
    return [
        weights(rng, f"{name}_w", (out_channels, in_channels, 3, 3), scale=scale),
        bias(rng, f"{name}_b", out_channels),
    ]


def _stand_in_graph(rng: np.random.Generator) -> onnx.ModelProto:
    inputs = {MODEL_INPUT: (TensorProto.FLOAT, ["batch", 3, MIDAS_SIZE, MIDAS_SIZE])}
    outputs = {MODEL_OUTPUT: (TensorProto.FLOAT, ["batch", DEPTH_SIZE, DEPTH_SIZE])}
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
    return stand_in_model(FAMILY, "midas_stand_in", nodes, initializers, inputs, outputs)


# The midas stand-in (raise `stand_in_format` when its graph changes).
STAND_IN = StandIn(FAMILY, {MODEL_FILE: _stand_in_graph})
build_midas_stand_in = STAND_IN.build
