"""CLIP (contrastive language-image pretraining): two ONNX towers into one 512-d space.

Production model: OpenCLIP ViT-B-32 `laion2b_s34b_b79k` (MIT), exported to ONNX by
`dp models export clip`. No weights exist offline (shared/MODELS.md): `dp models pull clip`
fetches them where a network exists; tests build a stand-in with `dp models stand-in clip`
(random weights, same I/O: dp_tools/stand_ins/clip.py).

ONNX I/O contract of a CLIP model folder (batch dimension `batch` dynamic):
- `clip_image.onnx`: input `pixel_values` float32 [B, 3, 224, 224] (RGB, shortest side
  resized to 224 with bicubic, centre-cropped, /255, CLIP mean / std normalised:
  `dp_features.visual.model_inputs.clip_pixels`), output `image_embedding` float32
  [B, 512] (the projection into the joint space; need not be normalised).
- `clip_text.onnx`: input `input_ids` int64 [B, 77], output `text_embedding` float32
  [B, 512]. OpenCLIP pools the text transformer at the end-of-text token, found as the
  position of the largest id (`<end_of_text>` = 49407 is the last id of the vocabulary).
- `tokenizer.json` (real model only): CLIP's byte-level BPE in Hugging Face `tokenizers`
  format, read with the `tokenizers` library if it is installed (not a hard dependency
  of the platform). We frame the ids ourselves, whatever the file's post-processor says:
  `<start_of_text>` (49406) words `<end_of_text>` (49407), truncated so that the end token
  stays, padded with 0 to 77 (as `open_clip.tokenize`).
- `model.json` (optional, from the exporter): `{"name", "version", "precision"}`.
- `stand_in.json` (stand-in only): marks the folder as a test model with random weights;
  the towers are then reported with `stand_in=True` and the name `clip-vit-b-32-stand-in`.

`ClipModel.embed_frames` / `embed_text` run the towers in batches of `batch_size` and
return L2-normalised float32 [n, 512] embeddings, so a dot product is a cosine similarity.
`models_used` lists both towers; the text tower's digest also covers `tokenizer.json`.

The stand-in's tokenizer hashes lower-cased words into a 1024-token vocabulary with CLIP's
layout: pad 0, start 1022, end 1023 (the largest id, so the pooling finds it). Folder
loader and marker checks: `dp_resources/models/towers.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.model_inputs import clip_pixels
from dp_resources.models.onnx_runtime import OnnxModel
from dp_resources.models.registry import ModelFamily, Tower, how_to_pull, model_folder
from dp_resources.models.towers import (
    HashedWordTokenizer,
    JointEmbedder,
    Tokenizer,
    framed_token_ids,
    load_hf_tokenizer,
)
from dp_resources.models.triton_towers import TritonSettings, load_towers

EMBEDDING_DIM = 512
TEXT_LENGTH = 77

FAMILY = ModelFamily(
    "clip",
    "CLIP",
    "openclip-vit-b-32-laion2b",
    how_to_pull("clip"),
    obtained_by="pull",
    towers=(
        Tower("clip_image.onnx", "image", ("pixel_values",), ("image_embedding",)),
        Tower("clip_text.onnx", "text", ("input_ids",), ("text_embedding",)),
    ),
    reference="OpenCLIP ViT-B-32 laion2b_s34b_b79k",
    stand_in_name="clip-vit-b-32-stand-in",
    tokenizer_file="tokenizer.json",
    tokenizer_description="the CLIP BPE tokenizer",
)
_IMAGE, _TEXT = FAMILY.tower("image"), FAMILY.tower("text")
IMAGE_FILE, IMAGE_INPUT, IMAGE_OUTPUT = _IMAGE.file, _IMAGE.inputs[0], _IMAGE.output
TEXT_FILE, TEXT_INPUT, TEXT_OUTPUT = _TEXT.file, _TEXT.inputs[0], _TEXT.output
TOKENIZER_FILE = FAMILY.tokenizer_file
REAL_NAME = FAMILY.real_name
STAND_IN_NAME = FAMILY.stand_in_name

# CLIP's special tokens (OpenCLIP's names, then Hugging Face's) and its padding id.
START_TOKENS = ("<start_of_text>", "<|startoftext|>")
END_TOKENS = ("<end_of_text>", "<|endoftext|>")
PAD_ID = 0

STAND_IN_VOCAB = 1024

# STAND-IN ONLY: CLIP's layout in a 1024-token vocabulary (end = the largest id).
STAND_IN_TOKENIZER = HashedWordTokenizer(
    vocab_size=STAND_IN_VOCAB,
    bos_id=STAND_IN_VOCAB - 2,
    eos_id=STAND_IN_VOCAB - 1,
    pad_id=PAD_ID,
    length=TEXT_LENGTH,
)


class ClipBpeTokenizer:
    """The real model's BPE tokenizer (`tokenizer.json`), framed as `open_clip.tokenize`."""

    def __init__(self, path: Path):
        self._tokenizer = load_hf_tokenizer(path, FAMILY)
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.start_id = self._special_id(START_TOKENS, path)
        self.end_id = self._special_id(END_TOKENS, path)

    def _special_id(self, names: tuple[str, ...], path: Path) -> int:
        for name in names:
            token_id = self._tokenizer.token_to_id(name)
            if token_id is not None:
                return int(token_id)
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{path} has no {' or '.join(names)} token: not a CLIP tokenizer; {FAMILY.how_to_get}",
        )

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return framed_token_ids(
            [e.ids for e in encodings],
            bos_id=self.start_id,
            eos_id=self.end_id,
            pad_id=PAD_ID,
            length=TEXT_LENGTH,
        )


@dataclass
class ClipModel(JointEmbedder):
    """The two CLIP towers and the tokenizer; see the module docstring for the contract.
    `embed_text` (from `JointEmbedder`) embeds texts, e.g. zero-shot prompts."""

    family: ClassVar[ModelFamily] = FAMILY
    embedding_dim: ClassVar[int] = EMBEDDING_DIM
    image: OnnxModel
    text: OnnxModel
    tokenizer: Tokenizer
    batch_size: int = 32

    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        """float32 [n, 512] unit vectors from uint8 RGB frames [n, H, W, 3] of any size,
        preprocessed (`clip_pixels`) batch by batch."""
        frames = np.asarray(frames)
        return self.unit_embeddings(
            "image", len(frames), lambda batch: [clip_pixels(frames[batch])]
        )

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """float32 [n, 512] unit vectors from already preprocessed `clip_pixels` [n,3,224,224]
        (cross-video batching preprocesses each video's frames, whatever their size)."""
        pixels = np.asarray(pixels, dtype=np.float32)
        return self.unit_embeddings("image", len(pixels), lambda batch: [pixels[batch]])


def default_clip_dir() -> Path:
    """`$DP_MODEL_DIR/clip`, else `<model cache>/clip` (`$DP_MODEL_CACHE` or ~/.cache/...)."""
    return model_folder(FAMILY.name)


@FAMILY.loads
def load_clip(
    model_dir: Path | None = None,
    *,
    providers: tuple[str, ...] = ("CPUExecutionProvider",),
    batch_size: int = 32,
    intra_op_threads: int = 0,
    triton: TritonSettings | None = None,
) -> ClipModel:
    """The CLIP model in `model_dir` (default `default_clip_dir()`): a real export with its
    `tokenizer.json`, or a stand-in folder (`stand_in.json`), reported as such."""
    loaded = load_towers(FAMILY, model_dir, providers, intra_op_threads, triton)
    tokenizer: Tokenizer = (
        STAND_IN_TOKENIZER
        if loaded.tokenizer_file is None
        else ClipBpeTokenizer(loaded.tokenizer_file)
    )
    image, text = loaded.towers["image"], loaded.towers["text"]
    return ClipModel(image, text, tokenizer, batch_size=batch_size)
