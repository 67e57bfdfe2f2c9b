"""The CLIP stand-in: random weights with the real I/O contract (dp_resources/models/families/clip.py).

It keeps the real family's shape at toy scale: image = a toy ViT (a 32 x 32 stride-32
convolution cuts 7 x 7 patches -> 49 tokens of width 128 + position embedding -> layer
norm -> one self-attention block -> mean pooling -> projection to 512); text = token +
position embedding -> one causal self-attention block -> the token at the largest id (the
end token, as OpenCLIP) -> projection to 512. Its tokenizer (`STAND_IN_TOKENIZER` in the
family module) hashes lower-cased words into a 1024-token vocabulary with CLIP's layout.
Its embeddings mean nothing; it exists to drive the real code path.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from dp_features.visual.model_inputs import CLIP_SIZE
from dp_resources.models.families.clip import (
    EMBEDDING_DIM,
    FAMILY,
    IMAGE_FILE,
    IMAGE_INPUT,
    IMAGE_OUTPUT,
    STAND_IN_VOCAB,
    TEXT_FILE,
    TEXT_INPUT,
    TEXT_LENGTH,
    TEXT_OUTPUT,
)
from dp_tools.stand_ins.common import (
    StandIn,
    bias,
    const,
    self_attention_block,
    stand_in_model,
    weights,
)

_PATCH = 32
_GRID = CLIP_SIZE // _PATCH  # 7 x 7 patches
_IMAGE_WIDTH = 128
_TEXT_WIDTH = 128


def _stand_in_text_graph(rng: np.random.Generator) -> onnx.ModelProto:
    width = _TEXT_WIDTH
    # Causal: a token attends to itself and the tokens before it, so the end token sees
    # the whole text and the padding after it changes nothing.
    causal = np.triu(np.full((TEXT_LENGTH, TEXT_LENGTH), -1e4, np.float32), k=1)
    attention_nodes, attention_initializers = self_attention_block(
        rng, "embedded", "hidden", width, additive_mask="causal_mask"
    )
    initializers = [
        weights(rng, "token_embedding", (STAND_IN_VOCAB, width), scale=1.0),
        weights(rng, "position", (TEXT_LENGTH, width), scale=0.1),
        const("causal_mask", causal),
        *attention_initializers,
        weights(rng, "projection", (width, EMBEDDING_DIM)),
        bias(rng, "projection_b", EMBEDDING_DIM),
    ]
    inputs = {TEXT_INPUT: (TensorProto.INT64, ["batch", TEXT_LENGTH])}
    outputs = {TEXT_OUTPUT: (TensorProto.FLOAT, ["batch", EMBEDDING_DIM])}
    node = helper.make_node
    nodes = [
        node("Gather", ["token_embedding", TEXT_INPUT], ["tokens_raw"], axis=0),  # [B, 77, 128]
        node("Add", ["tokens_raw", "position"], ["embedded"]),
        *attention_nodes,
        node("ArgMax", [TEXT_INPUT], ["end_position"], axis=1, keepdims=1),  # [B, 1]
        node("GatherND", ["hidden", "end_position"], ["pooled"], batch_dims=1),  # [B, 128]
        node("MatMul", ["pooled", "projection"], ["projected"]),
        node("Add", ["projected", "projection_b"], [TEXT_OUTPUT]),
    ]
    return stand_in_model(FAMILY, "clip_text_stand_in", nodes, initializers, inputs, outputs)


def _stand_in_image_graph(rng: np.random.Generator) -> onnx.ModelProto:
    width, tokens = _IMAGE_WIDTH, _GRID * _GRID
    attention_nodes, attention_initializers = self_attention_block(rng, "embedded", "hidden", width)
    initializers = [
        weights(rng, "patch_w", (width, 3, _PATCH, _PATCH), scale=1 / np.sqrt(3 * _PATCH**2)),
        bias(rng, "patch_b", width),
        const("token_shape", np.array([0, width, tokens], np.int64)),
        weights(rng, "position", (tokens, width), scale=0.1),
        *attention_initializers,
        weights(rng, "projection", (width, EMBEDDING_DIM)),
        bias(rng, "projection_b", EMBEDDING_DIM),
    ]
    inputs = {IMAGE_INPUT: (TensorProto.FLOAT, ["batch", 3, CLIP_SIZE, CLIP_SIZE])}
    outputs = {IMAGE_OUTPUT: (TensorProto.FLOAT, ["batch", EMBEDDING_DIM])}
    node = helper.make_node
    nodes = [
        node(
            "Conv",
            [IMAGE_INPUT, "patch_w", "patch_b"],
            ["patches"],
            kernel_shape=[_PATCH, _PATCH],
            strides=[_PATCH, _PATCH],
        ),  # [B, 128, 7, 7]
        node("Reshape", ["patches", "token_shape"], ["patch_columns"]),  # [B, 128, 49]
        node("Transpose", ["patch_columns"], ["patch_tokens"], perm=[0, 2, 1]),
        node("Add", ["patch_tokens", "position"], ["embedded"]),  # [B, 49, 128]
        *attention_nodes,
        node("ReduceMean", ["hidden"], ["pooled"], axes=[1], keepdims=0),
        node("MatMul", ["pooled", "projection"], ["projected"]),
        node("Add", ["projected", "projection_b"], [IMAGE_OUTPUT]),
    ]
    return stand_in_model(FAMILY, "clip_image_stand_in", nodes, initializers, inputs, outputs)


# The clip stand-in (raise `stand_in_format` when its graphs or tokenizer change).
_TOKENIZER_NOTE = "stand-in: hashed words, 1024 tokens (not CLIP BPE)"
STAND_IN = StandIn(
    FAMILY, {IMAGE_FILE: _stand_in_image_graph, TEXT_FILE: _stand_in_text_graph}, _TOKENIZER_NOTE
)
build_clip_stand_in = STAND_IN.build
