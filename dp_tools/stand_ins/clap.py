"""The CLAP stand-in: random weights with the real I/O contract (dp_resources/models/families/clap.py).

It keeps the real family's shape at toy scale: audio = 20 ms frames -> a fixed
Hann-windowed sine/cosine projection (64 log-spaced frequencies) -> log band power ->
layer norm -> one self-attention block over time -> mean and max pooling -> 2-layer MLP;
text = token embedding (Gather) -> masked mean -> 2-layer MLP. Its tokenizer
(`StandInTokenizer` in the family module) hashes lower-cased words into a 1024-token
vocabulary with RoBERTa's special ids. Its embeddings mean nothing; it exists to drive the
real code path.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from dp_resources.models.families.clap import (
    AUDIO_FILE,
    AUDIO_INPUT,
    AUDIO_OUTPUT,
    EMBEDDING_DIM,
    FAMILY,
    SAMPLE_RATE,
    STAND_IN_VOCAB,
    TEXT_FILE,
    TEXT_INPUTS,
    TEXT_LENGTH,
    TEXT_OUTPUT,
    WINDOW_SAMPLES,
)
from dp_tools.stand_ins.common import (
    StandIn,
    bias,
    const,
    self_attention_block,
    stand_in_model,
    weights,
)

_STAND_IN_FRAME = 960  # 20 ms at 48 kHz; 500 frames per window
_STAND_IN_BANDS = 64
_STAND_IN_WIDTH = 256


def _band_projection() -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed cosine and sine at 64 log-spaced frequencies, [960, 64] each."""
    n = np.arange(_STAND_IN_FRAME)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / _STAND_IN_FRAME)
    freqs = np.geomspace(50.0, 20000.0, _STAND_IN_BANDS)
    phase = 2 * np.pi * np.outer(n, freqs) / SAMPLE_RATE
    scale = 2.0 / hann.sum()
    return (
        (np.cos(phase) * hann[:, None] * scale).astype(np.float32),
        (np.sin(phase) * hann[:, None] * scale).astype(np.float32),
    )


def _stand_in_audio_graph(rng: np.random.Generator) -> onnx.ModelProto:
    frames = WINDOW_SAMPLES // _STAND_IN_FRAME
    bands, width = _STAND_IN_BANDS, _STAND_IN_WIDTH
    cos, sin = _band_projection()
    attention_nodes, attention_initializers = self_attention_block(
        rng, "log_power", "hidden", bands
    )
    initializers = [
        const("frame_shape", np.array([-1, frames, _STAND_IN_FRAME], np.int64)),
        const("proj_cos", cos),
        const("proj_sin", sin),
        const("power_floor", np.array(1e-8, np.float32)),
        *attention_initializers,
        weights(rng, "w_1", (2 * bands, width)),
        bias(rng, "b_1", width),
        weights(rng, "w_2", (width, EMBEDDING_DIM)),
        bias(rng, "b_2", EMBEDDING_DIM),
    ]
    inputs = {AUDIO_INPUT: (TensorProto.FLOAT, ["batch", WINDOW_SAMPLES])}
    outputs = {AUDIO_OUTPUT: (TensorProto.FLOAT, ["batch", EMBEDDING_DIM])}
    node = helper.make_node
    nodes = [
        node("Reshape", [AUDIO_INPUT, "frame_shape"], ["frames"]),  # [B, 500, 960]
        node("MatMul", ["frames", "proj_cos"], ["re"]),
        node("MatMul", ["frames", "proj_sin"], ["im"]),
        node("Mul", ["re", "re"], ["re2"]),
        node("Mul", ["im", "im"], ["im2"]),
        node("Add", ["re2", "im2"], ["power"]),
        node("Add", ["power", "power_floor"], ["power_floored"]),
        node("Log", ["power_floored"], ["log_power"]),  # [B, 500, 64]
        *attention_nodes,
        node("ReduceMean", ["hidden"], ["pooled_mean"], axes=[1], keepdims=0),
        node("ReduceMax", ["hidden"], ["pooled_max"], axes=[1], keepdims=0),
        node("Concat", ["pooled_mean", "pooled_max"], ["pooled"], axis=-1),
        node("MatMul", ["pooled", "w_1"], ["h1_raw"]),
        node("Add", ["h1_raw", "b_1"], ["h1_biased"]),
        node("Relu", ["h1_biased"], ["h1"]),
        node("MatMul", ["h1", "w_2"], ["h2"]),
        node("Add", ["h2", "b_2"], [AUDIO_OUTPUT]),
    ]
    return stand_in_model(FAMILY, "clap_audio_stand_in", nodes, initializers, inputs, outputs)


def _stand_in_text_graph(rng: np.random.Generator) -> onnx.ModelProto:
    width = _STAND_IN_WIDTH
    initializers = [
        weights(rng, "token_embedding", (STAND_IN_VOCAB, width), scale=1.0),
        const("sum_axis", np.array([1], np.int64)),
        const("minus_one", np.array([-1], np.int64)),
        const("count_floor", np.array(1.0, np.float32)),
        weights(rng, "w_1", (width, width)),
        bias(rng, "b_1", width),
        weights(rng, "w_2", (width, EMBEDDING_DIM)),
        bias(rng, "b_2", EMBEDDING_DIM),
    ]
    inputs = {name: (TensorProto.INT64, ["batch", TEXT_LENGTH]) for name in TEXT_INPUTS}
    outputs = {TEXT_OUTPUT: (TensorProto.FLOAT, ["batch", EMBEDDING_DIM])}
    node = helper.make_node
    ids, mask = TEXT_INPUTS
    nodes = [
        node("Gather", ["token_embedding", ids], ["embedded"], axis=0),  # [B, 77, 256]
        node("Cast", [mask], ["mask_f"], to=TensorProto.FLOAT),
        node("Unsqueeze", ["mask_f", "minus_one"], ["mask_3d"]),
        node("Mul", ["embedded", "mask_3d"], ["masked"]),
        node("ReduceSum", ["masked", "sum_axis"], ["summed"], keepdims=0),
        node("ReduceSum", ["mask_3d", "sum_axis"], ["count_raw"], keepdims=0),
        node("Max", ["count_raw", "count_floor"], ["count"]),
        node("Div", ["summed", "count"], ["mean"]),
        node("MatMul", ["mean", "w_1"], ["h1_raw"]),
        node("Add", ["h1_raw", "b_1"], ["h1_biased"]),
        node("Tanh", ["h1_biased"], ["h1"]),
        node("MatMul", ["h1", "w_2"], ["h2"]),
        node("Add", ["h2", "b_2"], [TEXT_OUTPUT]),
    ]
    return stand_in_model(FAMILY, "clap_text_stand_in", nodes, initializers, inputs, outputs)


# The clap stand-in (raise `stand_in_format` when its graphs or tokenizer change).
_TOKENIZER_NOTE = "stand-in: hashed words, 1024 tokens (not RoBERTa BPE)"
STAND_IN = StandIn(
    FAMILY, {AUDIO_FILE: _stand_in_audio_graph, TEXT_FILE: _stand_in_text_graph}, _TOKENIZER_NOTE
)
build_clap_stand_in = STAND_IN.build
