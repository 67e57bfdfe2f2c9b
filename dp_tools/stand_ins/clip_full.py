"""The FULL-SIZE CLIP stand-in: OpenCLIP ViT-B-32's architecture and sizes with random
weights, for speed measurements (benchmarks/gpu_check.py), never for features.

Image tower (87,849,216 parameters, as OpenCLIP's `visual`): a 32 x 32 stride-32
convolution (no bias) -> 49 patch tokens of width 768 + a class token + 50 position
embeddings -> ln_pre -> 12 residual attention blocks (12 heads, 4x GELU MLP) -> ln_post on
the class token -> projection 768 -> 512. Text tower (63,428,096 parameters): token
embedding 49,408 x 512 + 77 positions -> 12 causal blocks (8 heads) -> ln_final -> the
token at the largest id (end of text) -> projection 512 -> 512. Same file, input and
output names and shapes as the real family (dp_resources/models/families/clip.py); the
folder is marked a stand-in, and the loader pairs it with the stand-in tokenizer, whose
ids (< 1024, end = 1023) fit the full vocabulary.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from dp_features.visual.model_inputs import CLIP_SIZE
from dp_resources.models.families.clip import (
    EMBEDDING_DIM,
    FAMILY,
    IMAGE_FILE,
    IMAGE_INPUT,
    IMAGE_OUTPUT,
    TEXT_FILE,
    TEXT_INPUT,
    TEXT_LENGTH,
    TEXT_OUTPUT,
)
from dp_tools.stand_ins.common import StandIn, stand_in_model
from dp_tools.stand_ins.layers import GraphBuilder, layer_norm, transformer

PATCH, IMAGE_WIDTH, IMAGE_HEADS, IMAGE_LAYERS = 32, 768, 12, 12
VOCAB, TEXT_WIDTH, TEXT_HEADS, TEXT_LAYERS = 49408, 512, 8, 12
GRID = CLIP_SIZE // PATCH  # 7 x 7 patches


def full_image_graph(rng: np.random.Generator) -> onnx.ModelProto:
    g, width, tokens = GraphBuilder(rng), IMAGE_WIDTH, GRID * GRID
    patch_w = g.weight("conv1.weight", (width, 3, PATCH, PATCH), (3 * PATCH**2) ** -0.5)
    patches = g.node(
        "Conv", [IMAGE_INPUT, patch_w], kernel_shape=[PATCH] * 2, strides=[PATCH] * 2
    )  # [B, 768, 7, 7]
    columns = g.node("Reshape", [patches, g.const("token_shape", np.array([0, width, tokens]))])
    patch_tokens = g.node("Transpose", [columns], perm=[0, 2, 1])  # [B, 49, 768]
    # The class token, broadcast to [B, 1, 768]: the batch size comes from the input.
    batch = g.node(
        "Slice",
        [
            g.node("Shape", [IMAGE_INPUT]),
            g.const("zero", np.array([0])),
            g.const("one", np.array([1])),
        ],
    )
    class_shape = g.node("Concat", [batch, g.const("class_rest", np.array([1, width]))], axis=0)
    class_token = g.node(
        "Expand", [g.weight("class_embedding", (1, 1, width), width**-0.5), class_shape]
    )
    sequence = g.node("Concat", [class_token, patch_tokens], axis=1)  # [B, 50, 768]
    embedded = g.node(
        "Add", [sequence, g.weight("positional_embedding", (tokens + 1, width), width**-0.5)]
    )
    hidden = transformer(
        g, layer_norm(g, embedded, "ln_pre", width), "transformer", width, IMAGE_HEADS, IMAGE_LAYERS
    )
    pooled = g.node("Gather", [hidden, g.const("class_index", np.array(0, np.int64))], axis=1)
    pooled = layer_norm(g, pooled, "ln_post", width)
    g.node("MatMul", [pooled, g.weight("proj", (width, EMBEDDING_DIM), width**-0.5)], IMAGE_OUTPUT)
    inputs = {IMAGE_INPUT: (TensorProto.FLOAT, ["batch", 3, CLIP_SIZE, CLIP_SIZE])}
    outputs = {IMAGE_OUTPUT: (TensorProto.FLOAT, ["batch", EMBEDDING_DIM])}
    return stand_in_model(
        FAMILY, "clip_image_full_size_stand_in", g.nodes, g.initializers, inputs, outputs
    )


def full_text_graph(rng: np.random.Generator) -> onnx.ModelProto:
    g, width = GraphBuilder(rng), TEXT_WIDTH
    # Causal: a token attends to itself and the tokens before it (OpenCLIP's attn_mask).
    causal = g.const("causal_mask", np.triu(np.full((TEXT_LENGTH,) * 2, -1e4, np.float32), k=1))
    tokens = g.node(
        "Gather", [g.weight("token_embedding", (VOCAB, width), 0.02), TEXT_INPUT], axis=0
    )
    embedded = g.node("Add", [tokens, g.weight("positional_embedding", (TEXT_LENGTH, width), 0.01)])
    hidden = transformer(g, embedded, "transformer", width, TEXT_HEADS, TEXT_LAYERS, causal)
    hidden = layer_norm(g, hidden, "ln_final", width)
    end = g.node("ArgMax", [TEXT_INPUT], axis=1, keepdims=1)  # [B, 1]
    pooled = g.node("GatherND", [hidden, end], batch_dims=1)  # [B, 512]
    g.node(
        "MatMul",
        [pooled, g.weight("text_projection", (width, EMBEDDING_DIM), width**-0.5)],
        TEXT_OUTPUT,
    )
    inputs = {TEXT_INPUT: (TensorProto.INT64, ["batch", TEXT_LENGTH])}
    outputs = {TEXT_OUTPUT: (TensorProto.FLOAT, ["batch", EMBEDDING_DIM])}
    return stand_in_model(
        FAMILY, "clip_text_full_size_stand_in", g.nodes, g.initializers, inputs, outputs
    )


_TOKENIZER_NOTE = "stand-in: hashed words, ids < 1024 (not CLIP BPE) into a 49,408-token embedding"
FULL_SIZE_STAND_IN = StandIn(
    FAMILY,
    {IMAGE_FILE: full_image_graph, TEXT_FILE: full_text_graph},
    _TOKENIZER_NOTE,
    size="full",
)
