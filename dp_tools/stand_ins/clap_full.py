"""The FULL-SIZE CLAP stand-in: an audio tower of HTSAT-tiny's size and cost with CLAP's
I/O and random weights, for speed measurements, never for embeddings.

A SUBSTITUTE, not HTSAT's Swin layout: the same front end as LAION CLAP (10 s at 48 kHz,
1024-point STFT as a strided convolution, hop 480 -> 1001 frames, 64 mel bands 50 Hz -
14 kHz, log), then, where HTSAT runs a 4-stage Swin transformer (96 -> 768 channels,
windowed attention, ~28 M parameters, ~6 GFLOPs per window), a plain 4-layer transformer
of width 768 over 100 tokens of 10 frames x 64 bands (28.9 M parameters, ~6 GFLOPs) ->
mean pooling -> CLAP's audio projection (768 -> 512, ReLU, 512 -> 512). About 29.6 M
parameters and 8 GFLOPs per window with the STFT, as HTSAT + projection. The text tower
stays the toy one (the GPU path measures audio). Same files, inputs and outputs as the
real family (dp_resources/models/families/clap.py).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from dp_resources.models.families.clap import (
    AUDIO_FILE,
    AUDIO_INPUT,
    AUDIO_OUTPUT,
    EMBEDDING_DIM,
    FAMILY,
    SAMPLE_RATE,
    TEXT_FILE,
    WINDOW_SAMPLES,
)
from dp_tools.stand_ins.clap import STAND_IN as TOY_STAND_IN
from dp_tools.stand_ins.common import StandIn, stand_in_model
from dp_tools.stand_ins.layers import (
    GraphBuilder,
    layer_norm,
    linear,
    transformer,
)

N_FFT, HOP, MEL_BANDS, F_MIN, F_MAX = 1024, 480, 64, 50.0, 14000.0
FRAMES = WINDOW_SAMPLES // HOP + 1  # 1001 (centred frames)
FRAMES_PER_TOKEN = 10
TOKENS = (FRAMES - 1) // FRAMES_PER_TOKEN  # 100; the last frame is dropped
WIDTH, HEADS, LAYERS = 768, 12, 4


def _stft_basis() -> np.ndarray:
    """Hann-windowed cosines then sines of the 513 STFT bins: Conv weights [1026, 1, 1024]."""
    n = np.arange(N_FFT)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)
    phase = 2 * np.pi * np.outer(np.arange(N_FFT // 2 + 1), n) / N_FFT
    basis = np.concatenate([np.cos(phase), -np.sin(phase)]) * window
    return basis[:, None, :].astype(np.float32)


def _mel_filters() -> np.ndarray:
    """Triangular filters on the mel scale (HTK), [513 bins, 64 bands]."""
    mel = np.linspace(*(2595 * np.log10(1 + np.array([F_MIN, F_MAX]) / 700)), MEL_BANDS + 2)
    edges = 700 * (10 ** (mel / 2595) - 1)
    bins = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)[:, None]
    low, centre, high = edges[:-2], edges[1:-1], edges[2:]
    rising, falling = (bins - low) / (centre - low), (high - bins) / (high - centre)
    return np.clip(np.minimum(rising, falling), 0, None).astype(np.float32)


def full_audio_graph(rng: np.random.Generator) -> onnx.ModelProto:
    g, bins = GraphBuilder(rng), N_FFT // 2 + 1
    signal = g.node("Unsqueeze", [AUDIO_INPUT, g.const("channel_axis", np.array([1]))])
    spectrum = g.node(
        "Conv",
        [signal, g.const("stft_basis", _stft_basis())],
        kernel_shape=[N_FFT],
        strides=[HOP],
        pads=[N_FFT // 2, N_FFT // 2],
    )  # [B, 1026, 1001]: real parts, then imaginary parts
    squared = g.node("Mul", [spectrum, spectrum])
    real2 = g.node(
        "Slice",
        [
            squared,
            g.const("re_start", np.array([0])),
            g.const("re_end", np.array([bins])),
            g.const("bin_axis", np.array([1])),
        ],
    )
    imag2 = g.node(
        "Slice",
        [
            squared,
            g.const("im_start", np.array([bins])),
            g.const("im_end", np.array([2 * bins])),
            g.const("bin_axis_2", np.array([1])),
        ],
    )
    power = g.node("Transpose", [g.node("Add", [real2, imag2])], perm=[0, 2, 1])  # [B, 1001, 513]
    mel = g.node("MatMul", [power, g.const("mel_filters", _mel_filters())])
    log_mel = g.node("Log", [g.node("Add", [mel, g.const("floor", np.array(1e-10, np.float32))])])
    framed = g.node(
        "Slice",
        [
            log_mel,
            g.const("frame_start", np.array([0])),
            g.const("frame_end", np.array([TOKENS * FRAMES_PER_TOKEN])),
            g.const("frame_axis", np.array([1])),
        ],
    )
    grouped = g.node(
        "Reshape",
        [framed, g.const("token_shape", np.array([0, TOKENS, FRAMES_PER_TOKEN * MEL_BANDS]))],
    )
    tokens = linear(g, grouped, "patch_embed", FRAMES_PER_TOKEN * MEL_BANDS, WIDTH)
    tokens = g.node("Add", [tokens, g.weight("absolute_pos_embed", (TOKENS, WIDTH), 0.02)])
    hidden = layer_norm(g, transformer(g, tokens, "layers", WIDTH, HEADS, LAYERS), "norm", WIDTH)
    pooled = g.node("ReduceMean", [hidden], axes=[1], keepdims=0)  # [B, 768]
    projected = g.node("Relu", [linear(g, pooled, "audio_projection.0", WIDTH, EMBEDDING_DIM)])
    output = linear(g, projected, "audio_projection.2", EMBEDDING_DIM, EMBEDDING_DIM)
    g.node("Identity", [output], AUDIO_OUTPUT)
    inputs = {AUDIO_INPUT: (TensorProto.FLOAT, ["batch", WINDOW_SAMPLES])}
    outputs = {AUDIO_OUTPUT: (TensorProto.FLOAT, ["batch", EMBEDDING_DIM])}
    return stand_in_model(
        FAMILY, "clap_audio_full_size_stand_in", g.nodes, g.initializers, inputs, outputs
    )


FULL_SIZE_STAND_IN = StandIn(
    FAMILY,
    {AUDIO_FILE: full_audio_graph, TEXT_FILE: TOY_STAND_IN.graphs[TEXT_FILE]},
    TOY_STAND_IN.tokenizer_note,
    size="full",
)
