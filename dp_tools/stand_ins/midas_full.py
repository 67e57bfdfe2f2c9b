"""The FULL-SIZE MiDaS stand-in: MiDaS v2.1 small's architecture and sizes (`MidasNet_small`,
features 64, expand) with random weights, for speed measurements, never for depth.

Encoder: EfficientNet-Lite3 (timm `tf_efficientnet_lite3`: width x1.2, depth x1.4, ReLU6,
no squeeze-excitation) up to its 384-channel stage, tapped after the stages at strides
4 / 8 / 16 / 32 (32 / 48 / 136 / 384 channels) as MiDaS does. Decoder: the 3 x 3 `layerN_rn`
convolutions to 64 / 128 / 256 / 512 channels, four `FeatureFusionBlock_custom`s (two
residual conv units each, bilinear x 2 with aligned corners, a 1 x 1 out-convolution
halving the channels but in the last), and the output head (64 -> 32, x 2, 32 -> 32, ReLU,
32 -> 1, ReLU) -> squeeze. Batch norms are folded into the convolutions' biases (as an
ONNX export of the eval model gives), so the parameter count is PyTorch's minus one scale
per batch-norm channel and minus refinenet4's unused first unit; padding is symmetric
k // 2 where the TF-ported weights pad 'SAME' (same shapes and FLOPs). Same file, input
and output as the real family
(dp_resources/models/families/midas.py).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from dp_features.visual.model_inputs import MIDAS_SIZE
from dp_resources.models.families.midas import (
    DEPTH_SIZE,
    FAMILY,
    MODEL_FILE,
    MODEL_INPUT,
    MODEL_OUTPUT,
)
from dp_tools.stand_ins.common import StandIn, stand_in_model
from dp_tools.stand_ins.layers import GraphBuilder, conv

STEM_CHANNELS = 32
# EfficientNet-Lite3 stages after width / depth scaling: (block, repeats, kernel, stride,
# expansion, output channels); "ds" = depthwise separable, "ir" = inverted residual.
LITE3_STAGES = (
    ("ds", 1, 3, 1, 1, 24),
    ("ir", 3, 3, 2, 6, 32),
    ("ir", 3, 5, 2, 6, 48),
    ("ir", 5, 3, 2, 6, 96),
    ("ir", 5, 5, 1, 6, 136),
    ("ir", 6, 5, 2, 6, 232),
    ("ir", 1, 3, 1, 6, 384),
)
TAPPED_STAGES = (1, 2, 4, 6)  # MiDaS's layer1..layer4: strides 4, 8, 16, 32
FEATURES = (64, 128, 256, 512)  # scratch widths (features 64, expand=True)


def _relu6(g: GraphBuilder, x: str) -> str:
    return g.node(
        "Clip",
        [
            x,
            g.const(f"{x}.min", np.array(0, np.float32)),
            g.const(f"{x}.max", np.array(6, np.float32)),
        ],
    )


def _encoder(g: GraphBuilder, x: str) -> list[str]:
    """EfficientNet-Lite3's stem and stages; the outputs of the TAPPED_STAGES."""
    x = _relu6(g, conv(g, x, "conv_stem", (3, STEM_CHANNELS), 3, stride=2))
    channels, taps = STEM_CHANNELS, []
    for index, (kind, repeats, kernel, stride, expansion, out) in enumerate(LITE3_STAGES):
        for block in range(repeats):
            name, block_stride = f"blocks.{index}.{block}", stride if block == 0 else 1
            hidden = channels * expansion
            y = x
            if kind == "ir":
                y = _relu6(g, conv(g, y, f"{name}.conv_pw", (channels, hidden), 1))
            y = _relu6(
                g,
                conv(
                    g, y, f"{name}.conv_dw", (hidden, hidden), kernel, block_stride, groups=hidden
                ),
            )
            y = conv(g, y, f"{name}.conv_pwl", (hidden, out), 1)
            x = g.node("Add", [x, y]) if block_stride == 1 and channels == out else y
            channels = out
        if index in TAPPED_STAGES:
            taps.append(x)
    return taps


def _up2(g: GraphBuilder, x: str) -> str:
    scales = g.const(f"{x}.up2", np.array([1, 1, 2, 2], np.float32))
    return g.node(
        "Resize", [x, "", scales], mode="linear", coordinate_transformation_mode="align_corners"
    )


def _residual_conv_unit(g: GraphBuilder, x: str, name: str, width: int) -> str:
    y = conv(g, g.node("Relu", [x]), f"{name}.conv1", (width, width), 3)
    y = conv(g, g.node("Relu", [y]), f"{name}.conv2", (width, width), 3)
    return g.node("Add", [y, x])


def _fusion(g: GraphBuilder, x: str, skip: str | None, name: str, width: int, out: int) -> str:
    """FeatureFusionBlock_custom: (x + rcu1(skip)) -> rcu2 -> x 2 -> 1 x 1 to `out`.
    refinenet4 gets no skip: its first unit is never run, and an export drops it."""
    if skip is not None:
        x = g.node("Add", [x, _residual_conv_unit(g, skip, f"{name}.resConfUnit1", width)])
    x = _up2(g, _residual_conv_unit(g, x, f"{name}.resConfUnit2", width))
    return conv(g, x, f"{name}.out_conv", (width, out), 1)


def full_graph(rng: np.random.Generator) -> onnx.ModelProto:
    g = GraphBuilder(rng)
    layers = _encoder(g, MODEL_INPUT)
    encoder_channels = [LITE3_STAGES[i][-1] for i in TAPPED_STAGES]  # 32, 48, 136, 384
    reduced = [
        conv(g, layer, f"scratch.layer{i + 1}_rn", (c, f), 3, bias=False)
        for i, (layer, c, f) in enumerate(zip(layers, encoder_channels, FEATURES, strict=True))
    ]
    path = None
    for i in reversed(range(4)):  # refinenet4 .. refinenet1
        out = FEATURES[i] // 2 if i > 0 else FEATURES[0]  # expand halves; refinenet1 keeps 64
        source, skip = (reduced[i], None) if path is None else (path, reduced[i])
        path = _fusion(g, source, skip, f"scratch.refinenet{i + 1}", FEATURES[i], out)
    head = conv(g, path, "scratch.output_conv.0", (FEATURES[0], FEATURES[0] // 2), 3)
    head = conv(g, _up2(g, head), "scratch.output_conv.2", (FEATURES[0] // 2, 32), 3)
    head = conv(g, g.node("Relu", [head]), "scratch.output_conv.4", (32, 1), 1)
    depth = g.node("Relu", [head])
    g.node("Squeeze", [depth, g.const("channel_axis", np.array([1]))], MODEL_OUTPUT)
    inputs = {MODEL_INPUT: (TensorProto.FLOAT, ["batch", 3, MIDAS_SIZE, MIDAS_SIZE])}
    outputs = {MODEL_OUTPUT: (TensorProto.FLOAT, ["batch", DEPTH_SIZE, DEPTH_SIZE])}
    return stand_in_model(
        FAMILY, "midas_full_size_stand_in", g.nodes, g.initializers, inputs, outputs
    )


FULL_SIZE_STAND_IN = StandIn(FAMILY, {MODEL_FILE: full_graph}, size="full")
