"""Layers of the FULL-SIZE stand-ins (production architectures and sizes, random weights):
a graph builder with unique names, linear / layer norm / GELU, multi-head self-attention
and pre-norm transformer blocks (OpenCLIP's), and convolutions with their bias (a trained
network's batch norms folded in, as an ONNX export gives).

Only standard opset-17 operators with a dynamic batch axis, so onnxruntime (CPU or CUDA),
TensorRT's ONNX parser and Triton take the graphs as they take a real export. Learned
weights are named `<layer>.<tensor>`; fixed tensors (shapes, masks, signal-processing
bases) start with `const.`, so `parameter_count` counts what a framework would count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

CONST_PREFIX = "const."


def parameter_count(model: onnx.ModelProto) -> int:
    """Learned values in `model`: every initialiser except the fixed `const.` ones."""
    return sum(
        int(np.prod(tensor.dims, dtype=np.int64))
        for tensor in model.graph.initializer
        if not tensor.name.startswith(CONST_PREFIX)
    )


@dataclass
class GraphBuilder:
    """Nodes and initialisers of one graph. Weights are float32 Gaussians drawn from `rng`
    (float32 directly: full-size towers hold ~10^8 of them)."""

    rng: np.random.Generator
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    _count: int = 0

    def weight(self, name: str, shape: tuple[int, ...], scale: float) -> str:
        values = self.rng.standard_normal(shape, dtype=np.float32)
        values *= np.float32(scale)
        self.initializers.append(numpy_helper.from_array(values, name))
        return name

    def filled(self, name: str, shape: tuple[int, ...], value: float) -> str:
        """A learned tensor at its usual initial value (layer-norm scale 1, bias 0)."""
        self.initializers.append(numpy_helper.from_array(np.full(shape, value, np.float32), name))
        return name

    def const(self, name: str, value: np.ndarray) -> str:
        """A fixed tensor (not a parameter)."""
        full_name = CONST_PREFIX + name
        self.initializers.append(numpy_helper.from_array(np.asarray(value), full_name))
        return full_name

    def node(self, op: str, inputs: list[str], output: str = "", **attributes) -> str:
        """Add one node; its output is `output`, else a fresh name. Returns the output."""
        if not output:
            self._count += 1
            output = f"{op.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output


def linear(g: GraphBuilder, x: str, name: str, fan_in: int, fan_out: int, bias=True) -> str:
    """x @ W (+ b) over the last axis; W [fan_in, fan_out] scaled 1/sqrt(fan_in)."""
    y = g.node("MatMul", [x, g.weight(f"{name}.weight", (fan_in, fan_out), fan_in**-0.5)])
    if not bias:
        return y
    return g.node("Add", [y, g.weight(f"{name}.bias", (fan_out,), 0.02)])


def layer_norm(g: GraphBuilder, x: str, name: str, width: int) -> str:
    scale = g.filled(f"{name}.weight", (width,), 1.0)
    shift = g.filled(f"{name}.bias", (width,), 0.0)
    return g.node("LayerNormalization", [x, scale, shift], axis=-1, epsilon=1e-5)


def gelu(g: GraphBuilder, x: str) -> str:
    """Exact GELU, 0.5 x (1 + erf(x / sqrt 2)) (opset 17 has no Gelu operator; onnxruntime
    and TensorRT fuse this pattern)."""
    scaled = g.node("Mul", [x, g.const(f"{x}.inv_sqrt2", np.array(2**-0.5, np.float32))])
    one_plus = g.node(
        "Add", [g.node("Erf", [scaled]), g.const(f"{x}.one", np.array(1, np.float32))]
    )
    half_x = g.node("Mul", [x, g.const(f"{x}.half", np.array(0.5, np.float32))])
    return g.node("Mul", [half_x, one_plus])


def multi_head_attention(
    g: GraphBuilder, x: str, name: str, width: int, heads: int, mask: str | None = None
) -> str:
    """Self-attention over [B, T, width] as torch.nn.MultiheadAttention: one in-projection
    [width, 3 width] (+ bias), `heads` heads of width / heads, scores + `mask` [T, T], the
    out-projection. Returns [B, T, width]."""
    head_width = width // heads
    qkv = linear(g, x, f"{name}.in_proj", width, 3 * width)
    split = g.node(
        "Reshape", [qkv, g.const(f"{name}.qkv_shape", np.array([0, 0, 3, heads, head_width]))]
    )
    qkv_heads = g.node("Transpose", [split], perm=[2, 0, 3, 1, 4])  # [3, B, H, T, hd]
    q, k, v = (
        g.node("Gather", [qkv_heads, g.const(f"{name}.{part}", np.array(i, np.int64))], axis=0)
        for i, part in enumerate("qkv")
    )
    k_t = g.node("Transpose", [k], perm=[0, 1, 3, 2])
    scores = g.node("MatMul", [q, k_t])
    scores = g.node(
        "Mul", [scores, g.const(f"{name}.scale", np.array(head_width**-0.5, np.float32))]
    )
    if mask is not None:
        scores = g.node("Add", [scores, mask])
    attended = g.node("MatMul", [g.node("Softmax", [scores], axis=-1), v])  # [B, H, T, hd]
    merged = g.node("Transpose", [attended], perm=[0, 2, 1, 3])
    merged = g.node("Reshape", [merged, g.const(f"{name}.merge_shape", np.array([0, 0, width]))])
    return linear(g, merged, f"{name}.out_proj", width, width)


def transformer_block(
    g: GraphBuilder, x: str, name: str, width: int, heads: int, mask: str | None = None
) -> str:
    """OpenCLIP's residual attention block: x + attn(ln_1(x)), then + mlp(ln_2(x)) with a
    4x GELU MLP. Parameters: 12 width^2 + 13 width."""
    normed = layer_norm(g, x, f"{name}.ln_1", width)
    x = g.node("Add", [x, multi_head_attention(g, normed, f"{name}.attn", width, heads, mask)])
    normed = layer_norm(g, x, f"{name}.ln_2", width)
    hidden = gelu(g, linear(g, normed, f"{name}.mlp.c_fc", width, 4 * width))
    return g.node("Add", [x, linear(g, hidden, f"{name}.mlp.c_proj", 4 * width, width)])


def transformer(
    g: GraphBuilder, x: str, name: str, width: int, heads: int, layers: int, mask=None
) -> str:
    for layer in range(layers):
        x = transformer_block(g, x, f"{name}.{layer}", width, heads, mask)
    return x


def conv(
    g: GraphBuilder,
    x: str,
    name: str,
    channels: tuple[int, int],
    kernel: int,
    stride: int = 1,
    groups: int = 1,
    bias: bool = True,
) -> str:
    """A k x k convolution (padding k // 2) [in, out] channels; He-scaled weights, so ReLU
    stages keep the activations' size. `bias` also stands for a folded batch norm."""
    in_channels, out_channels = channels
    fan_in = in_channels // groups * kernel * kernel
    inputs = [
        x,
        g.weight(
            f"{name}.weight",
            (out_channels, fan_in // kernel**2, kernel, kernel),
            (2 / fan_in) ** 0.5,
        ),
    ]
    if bias:
        inputs.append(g.weight(f"{name}.bias", (out_channels,), 0.02))
    return g.node(
        "Conv",
        inputs,
        kernel_shape=[kernel, kernel],
        strides=[stride, stride],
        pads=[kernel // 2] * 4,
        group=groups,
    )
