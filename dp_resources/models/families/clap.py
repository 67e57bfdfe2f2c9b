"""CLAP (contrastive language-audio pretraining): two ONNX towers into one 512-d space.

Production model: LAION CLAP, HTSAT audio tower + RoBERTa text tower (Apache-2.0, e.g.
`laion/clap-htsat-unfused`), exported to ONNX by `dp models export` (not here). No weights
exist offline (shared/MODELS.md): `dp models pull clap` fetches them where a network
exists; tests build a stand-in with `build_clap_stand_in` (random weights, same I/O).

ONNX I/O contract of a CLAP model folder (batch dimension `batch` dynamic):
- `clap_audio.onnx`: input `waveform` float32 [B, 480000] (10 s of mono audio at
  48 kHz, -1..1, zero-padded at the end), output `audio_embedding` float32 [B, 512]
  (the projection into the joint space; need not be normalised).
- `clap_text.onnx`: inputs `input_ids` int64 [B, 77] and `attention_mask` int64 [B, 77]
  (1 for tokens, 0 for padding), output `text_embedding` float32 [B, 512].
- `tokenizer.json` (real model only): the RoBERTa byte-level BPE tokenizer in Hugging Face
  `tokenizers` format, loaded with the `tokenizers` library if it is installed (it is not a
  hard dependency of the platform); `<s> ... </s>`, truncated and padded with `<pad>` to 77.
- `model.json` (optional, from the exporter): `{"name", "version", "precision"}`.
- `stand_in.json` (stand-in only): marks the folder as a test model with random weights;
  the towers are then reported with `stand_in=True` and the name `clap-htsat-stand-in`.

`ClapModel.embed_audio` / `embed_text` run the towers in batches and return L2-normalised
float32 [B, 512] embeddings, so a dot product is a cosine similarity. `models_used` lists
both towers; the text tower's digest also covers `tokenizer.json` when there is one.

The stand-in keeps the real family's shape at toy scale: audio = 20 ms frames -> a fixed
Hann-windowed sine/cosine projection (64 log-spaced frequencies) -> log band power ->
layer norm -> one self-attention block over time -> mean and max pooling -> 2-layer MLP;
text = token embedding (Gather) -> masked mean -> 2-layer MLP. Its tokenizer hashes
lower-cased words into a 1024-token vocabulary (`<s>`=0, `<pad>`=1, `</s>`=2, as RoBERTa).
Weights come from numpy's generator with a fixed seed: the same seed gives the same bytes.
Embeddings from the stand-in mean nothing; it exists to drive the real code path.
The folder loader, the marker checks and the stand-in builder are shared with CLIP and
MiDaS (`dp_resources/models/towers.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

import numpy as np
import onnx
from onnx import TensorProto, helper

from dp_core.errors import DpError, ErrorCode
from dp_resources.models.onnx_runtime import OnnxModel
from dp_resources.models.towers import STAND_IN_MARKER as STAND_IN_MARKER  # re-exported
from dp_resources.models.towers import (
    HashedWordTokenizer,
    JointEmbedder,
    ModelFamily,
    Tokenizer,
    Tower,
    bias,
    build_stand_in_folder,
    const,
    default_model_dir,
    load_hf_tokenizer,
    self_attention_block,
    stand_in_model,
    weights,
)
from dp_resources.models.triton_towers import TritonSettings, load_towers

SAMPLE_RATE = 48000
WINDOW_SAMPLES = 480000  # 10 s at 48 kHz
EMBEDDING_DIM = 512
TEXT_LENGTH = 77

AUDIO_FILE = "clap_audio.onnx"
TEXT_FILE = "clap_text.onnx"
TOKENIZER_FILE = "tokenizer.json"

AUDIO_INPUT = "waveform"
AUDIO_OUTPUT = "audio_embedding"
TEXT_INPUTS = ("input_ids", "attention_mask")
TEXT_OUTPUT = "text_embedding"

REAL_NAME = "laion-clap-htsat"
STAND_IN_NAME = "clap-htsat-stand-in"
FAMILY = ModelFamily(
    key="clap",
    label="CLAP",
    module="dp_resources/models/families/clap.py",
    towers=(
        Tower(AUDIO_FILE, "audio", (AUDIO_INPUT,), AUDIO_OUTPUT),
        Tower(TEXT_FILE, "text", TEXT_INPUTS, TEXT_OUTPUT),
    ),
    real_name=REAL_NAME,
    reference="LAION CLAP",
    stand_in_name=STAND_IN_NAME,
    stand_in_format=1,  # bump when the stand-in graphs or tokenizer change
    tokenizer_file=TOKENIZER_FILE,
    tokenizer_description="the RoBERTa tokenizer",
)
HOW_TO_GET = FAMILY.how_to_get

# RoBERTa's special tokens; the stand-in tokenizer uses the same ids.
BOS_ID, PAD_ID, EOS_ID = 0, 1, 2
_STAND_IN_VOCAB = 1024
_STAND_IN_FRAME = 960  # 20 ms at 48 kHz; 500 frames per window
_STAND_IN_BANDS = 64
_STAND_IN_WIDTH = 256


class RobertaTokenizer:
    """The real model's BPE tokenizer (`tokenizer.json`), via the `tokenizers` library."""

    def __init__(self, path: Path):
        self._tokenizer = load_hf_tokenizer(path, FAMILY)
        pad_id = self._tokenizer.token_to_id("<pad>")
        self._tokenizer.enable_truncation(TEXT_LENGTH)
        self._tokenizer.enable_padding(
            length=TEXT_LENGTH, pad_id=PAD_ID if pad_id is None else pad_id, pad_token="<pad>"
        )

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64).reshape(-1, TEXT_LENGTH)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask.reshape(-1, TEXT_LENGTH)


# STAND-IN ONLY: lower-cased words hashed into a 1024-token vocabulary, `<s> words </s>`
# padded with `<pad>` to 77: deterministic, with RoBERTa's shapes and special ids.
StandInTokenizer = partial(
    HashedWordTokenizer,
    vocab_size=_STAND_IN_VOCAB,
    bos_id=BOS_ID,
    eos_id=EOS_ID,
    pad_id=PAD_ID,
    length=TEXT_LENGTH,
)


@dataclass
class ClapModel(JointEmbedder):
    """The two CLAP towers and the tokenizer; see the module docstring for the contract."""

    family: ClassVar[ModelFamily] = FAMILY
    embedding_dim: ClassVar[int] = EMBEDDING_DIM
    audio: OnnxModel
    text: OnnxModel
    tokenizer: Tokenizer
    batch_size: int = 8

    def embed_audio(self, waveforms: np.ndarray) -> np.ndarray:
        """float32 [B, 512] unit vectors from mono 48 kHz windows float32 [B, 480000]."""
        waveforms = np.asarray(waveforms, dtype=np.float32)
        if waveforms.ndim != 2 or waveforms.shape[1] != WINDOW_SAMPLES:
            raise DpError(
                ErrorCode.INTERNAL,
                f"CLAP audio takes [B, {WINDOW_SAMPLES}] windows, got {waveforms.shape}",
            )
        return self.unit_embeddings("audio", len(waveforms), lambda batch: [waveforms[batch]])


def default_clap_dir() -> Path:
    """`$DP_MODEL_DIR/clap`, else `<model cache>/clap` (`$DP_MODEL_CACHE` or ~/.cache/...)."""
    return default_model_dir(FAMILY.key)


def load_clap(
    model_dir: Path | None = None,
    *,
    providers: tuple[str, ...] = ("CPUExecutionProvider",),
    batch_size: int = 8,
    intra_op_threads: int = 0,
    triton: TritonSettings | None = None,
) -> ClapModel:
    """The CLAP model in `model_dir` (default `default_clap_dir()`): a real export with its
    `tokenizer.json`, or a stand-in folder (`stand_in.json`), reported as such."""
    loaded = load_towers(FAMILY, model_dir, providers, intra_op_threads, triton)
    tokenizer: Tokenizer = (
        StandInTokenizer()
        if loaded.tokenizer_file is None
        else RobertaTokenizer(loaded.tokenizer_file)
    )
    audio, text = loaded.towers["audio"], loaded.towers["text"]
    return ClapModel(audio, text, tokenizer, batch_size=batch_size)


# --- the stand-in -------------------------------------------------------------------------


def build_clap_stand_in(model_dir: Path, seed: int = 0) -> Path:
    """Write a STAND-IN CLAP model folder (random weights from `seed`, the real I/O
    contract, a `stand_in.json` marker) at `model_dir`, atomically; returns `model_dir`.
    Refuses to overwrite a folder that holds a real model."""
    return build_stand_in_folder(model_dir, FAMILY, seed, _stand_in_graphs, _STAND_IN_NOTES)


_STAND_IN_NOTES = {
    "tokenizer": "stand-in: hashed words, 1024 tokens (not RoBERTa BPE)",
    "note": "random weights for tests; embeddings carry no meaning",
}


def _stand_in_graphs(rng: np.random.Generator) -> dict[str, onnx.ModelProto]:
    return {AUDIO_FILE: _stand_in_audio_graph(rng), TEXT_FILE: _stand_in_text_graph(rng)}


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
    graph = helper.make_graph(
        nodes,
        "clap_audio_stand_in",
        [helper.make_tensor_value_info(AUDIO_INPUT, TensorProto.FLOAT, ["batch", WINDOW_SAMPLES])],
        [helper.make_tensor_value_info(AUDIO_OUTPUT, TensorProto.FLOAT, ["batch", EMBEDDING_DIM])],
        initializers,
    )
    return stand_in_model(graph, FAMILY)


def _stand_in_text_graph(rng: np.random.Generator) -> onnx.ModelProto:
    width = _STAND_IN_WIDTH
    initializers = [
        weights(rng, "token_embedding", (_STAND_IN_VOCAB, width), scale=1.0),
        const("sum_axis", np.array([1], np.int64)),
        const("minus_one", np.array([-1], np.int64)),
        const("count_floor", np.array(1.0, np.float32)),
        weights(rng, "w_1", (width, width)),
        bias(rng, "b_1", width),
        weights(rng, "w_2", (width, EMBEDDING_DIM)),
        bias(rng, "b_2", EMBEDDING_DIM),
    ]
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
    graph = helper.make_graph(
        nodes,
        "clap_text_stand_in",
        [
            helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", TEXT_LENGTH])
            for name in TEXT_INPUTS
        ],
        [helper.make_tensor_value_info(TEXT_OUTPUT, TensorProto.FLOAT, ["batch", EMBEDDING_DIM])],
        initializers,
    )
    return stand_in_model(graph, FAMILY)
