"""CLAP (contrastive language-audio pretraining): two ONNX towers into one 512-d space.

Production model: LAION CLAP, HTSAT audio tower + RoBERTa text tower (Apache-2.0, e.g.
`laion/clap-htsat-unfused`), exported to ONNX by `dp models export` (not here). No weights
exist offline (shared/MODELS.md): `dp models pull clap` fetches them where a network
exists; tests build a stand-in with `dp models stand-in clap` (random weights, same I/O:
dp_tools/stand_ins/clap.py).

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

The stand-in's tokenizer hashes lower-cased words into a 1024-token vocabulary (`<s>`=0,
`<pad>`=1, `</s>`=2, as RoBERTa). The folder loader and the marker checks are shared with
CLIP and MiDaS (`dp_resources/models/towers.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

import numpy as np

from dp_core.errors import DpError, ErrorCode
from dp_resources.models.onnx_runtime import OnnxModel
from dp_resources.models.registry import STAND_IN_MARKER as STAND_IN_MARKER  # re-exported
from dp_resources.models.registry import ModelFamily, Tower, how_to_pull, model_folder
from dp_resources.models.towers import (
    HashedWordTokenizer,
    JointEmbedder,
    Tokenizer,
    load_hf_tokenizer,
)
from dp_resources.models.triton_towers import TritonSettings, load_towers

SAMPLE_RATE = 48000
WINDOW_SAMPLES = 480000  # 10 s at 48 kHz
EMBEDDING_DIM = 512
TEXT_LENGTH = 77

FAMILY = ModelFamily(
    "clap",
    "CLAP",
    "laion-clap-htsat",
    how_to_pull("clap"),
    obtained_by="pull",
    towers=(
        Tower("clap_audio.onnx", "audio", ("waveform",), ("audio_embedding",)),
        Tower("clap_text.onnx", "text", ("input_ids", "attention_mask"), ("text_embedding",)),
    ),
    reference="LAION CLAP",
    stand_in_name="clap-htsat-stand-in",
    tokenizer_file="tokenizer.json",
    tokenizer_description="the RoBERTa tokenizer",
)
_AUDIO, _TEXT = FAMILY.tower("audio"), FAMILY.tower("text")
AUDIO_FILE, AUDIO_INPUT, AUDIO_OUTPUT = _AUDIO.file, _AUDIO.inputs[0], _AUDIO.output
TEXT_FILE, TEXT_INPUTS, TEXT_OUTPUT = _TEXT.file, _TEXT.inputs, _TEXT.output
TOKENIZER_FILE = FAMILY.tokenizer_file
REAL_NAME = FAMILY.real_name
STAND_IN_NAME = FAMILY.stand_in_name
HOW_TO_GET = FAMILY.how_to_get

# RoBERTa's special tokens; the stand-in tokenizer uses the same ids.
BOS_ID, PAD_ID, EOS_ID = 0, 1, 2
STAND_IN_VOCAB = 1024


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
    vocab_size=STAND_IN_VOCAB,
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
    return model_folder(FAMILY.name)


@FAMILY.loads
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
