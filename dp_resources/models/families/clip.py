"""CLIP (contrastive language-image pretraining): two ONNX towers into one 512-d space.

Production model: OpenCLIP ViT-B-32 `laion2b_s34b_b79k` (MIT), exported to ONNX by
`dp models export clip`. No weights exist offline (shared/MODELS.md): `dp models pull clip`
fetches them where a network exists; tests build a stand-in with `build_clip_stand_in`
(random weights, same I/O).

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

The stand-in keeps the real family's shape at toy scale: image = a toy ViT (a 32 x 32
stride-32 convolution cuts 7 x 7 patches -> 49 tokens of width 128 + position embedding ->
layer norm -> one self-attention block -> mean pooling -> projection to 512); text =
token + position embedding -> one causal self-attention block -> the token at the largest
id (the end token, as OpenCLIP) -> projection to 512. Its tokenizer hashes lower-cased
words into a 1024-token vocabulary with CLIP's layout: pad 0, start 1022, end 1023 (the
largest id, so the pooling finds it). Weights come from numpy's generator with a fixed
seed: the same seed gives the same bytes. Its embeddings mean nothing; it exists to drive
the real code path. Folder loader, marker checks and builder: `stand_in_graphs.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import onnx
from onnx import TensorProto, helper

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.model_inputs import CLIP_SIZE, clip_pixels
from dp_resources.models.onnx_runtime import OnnxModel
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
    framed_token_ids,
    load_hf_tokenizer,
    self_attention_block,
    stand_in_model,
    weights,
)
from dp_resources.models.triton_towers import TritonSettings, load_towers

EMBEDDING_DIM = 512
TEXT_LENGTH = 77

IMAGE_FILE = "clip_image.onnx"
TEXT_FILE = "clip_text.onnx"
TOKENIZER_FILE = "tokenizer.json"

IMAGE_INPUT = "pixel_values"
IMAGE_OUTPUT = "image_embedding"
TEXT_INPUT = "input_ids"
TEXT_OUTPUT = "text_embedding"

REAL_NAME = "openclip-vit-b-32-laion2b"
STAND_IN_NAME = "clip-vit-b-32-stand-in"
FAMILY = ModelFamily(
    key="clip",
    label="CLIP",
    module="dp_resources/models/families/clip.py",
    towers=(
        Tower(IMAGE_FILE, "image", (IMAGE_INPUT,), IMAGE_OUTPUT),
        Tower(TEXT_FILE, "text", (TEXT_INPUT,), TEXT_OUTPUT),
    ),
    real_name=REAL_NAME,
    reference="OpenCLIP ViT-B-32 laion2b_s34b_b79k",
    stand_in_name=STAND_IN_NAME,
    stand_in_format=1,  # bump when the stand-in graphs or tokenizer change
    tokenizer_file=TOKENIZER_FILE,
    tokenizer_description="the CLIP BPE tokenizer",
)

# CLIP's special tokens (OpenCLIP's names, then Hugging Face's) and its padding id.
START_TOKENS = ("<start_of_text>", "<|startoftext|>")
END_TOKENS = ("<end_of_text>", "<|endoftext|>")
PAD_ID = 0

_STAND_IN_VOCAB = 1024
_PATCH = 32
_GRID = CLIP_SIZE // _PATCH  # 7 x 7 patches
_IMAGE_WIDTH = 128
_TEXT_WIDTH = 128

# STAND-IN ONLY: CLIP's layout in a 1024-token vocabulary (end = the largest id).
STAND_IN_TOKENIZER = HashedWordTokenizer(
    vocab_size=_STAND_IN_VOCAB,
    bos_id=_STAND_IN_VOCAB - 2,
    eos_id=_STAND_IN_VOCAB - 1,
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
    return default_model_dir(FAMILY.key)


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


# --- the stand-in -------------------------------------------------------------------------


def build_clip_stand_in(model_dir: Path, seed: int = 0) -> Path:
    """Write a STAND-IN CLIP model folder (random weights from `seed`, the real I/O
    contract, a `stand_in.json` marker) at `model_dir`, atomically; returns `model_dir`.
    Refuses to overwrite a folder that holds a real model."""
    return build_stand_in_folder(model_dir, FAMILY, seed, _stand_in_graphs, _STAND_IN_NOTES)


_STAND_IN_NOTES = {
    "tokenizer": "stand-in: hashed words, 1024 tokens (not CLIP BPE)",
    "note": "random weights for tests; embeddings carry no meaning",
}


def _stand_in_graphs(rng: np.random.Generator) -> dict[str, onnx.ModelProto]:
    return {IMAGE_FILE: _stand_in_image_graph(rng), TEXT_FILE: _stand_in_text_graph(rng)}


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
    graph = helper.make_graph(
        nodes,
        "clip_image_stand_in",
        [
            helper.make_tensor_value_info(
                IMAGE_INPUT, TensorProto.FLOAT, ["batch", 3, CLIP_SIZE, CLIP_SIZE]
            )
        ],
        [helper.make_tensor_value_info(IMAGE_OUTPUT, TensorProto.FLOAT, ["batch", EMBEDDING_DIM])],
        initializers,
    )
    return stand_in_model(graph, FAMILY)


def _stand_in_text_graph(rng: np.random.Generator) -> onnx.ModelProto:
    width = _TEXT_WIDTH
    # Causal: a token attends to itself and the tokens before it, so the end token sees
    # the whole text and the padding after it changes nothing.
    causal = np.triu(np.full((TEXT_LENGTH, TEXT_LENGTH), -1e4, np.float32), k=1)
    attention_nodes, attention_initializers = self_attention_block(
        rng, "embedded", "hidden", width, additive_mask="causal_mask"
    )
    initializers = [
        weights(rng, "token_embedding", (_STAND_IN_VOCAB, width), scale=1.0),
        weights(rng, "position", (TEXT_LENGTH, width), scale=0.1),
        const("causal_mask", causal),
        *attention_initializers,
        weights(rng, "projection", (width, EMBEDDING_DIM)),
        bias(rng, "projection_b", EMBEDDING_DIM),
    ]
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
    graph = helper.make_graph(
        nodes,
        "clip_text_stand_in",
        [helper.make_tensor_value_info(TEXT_INPUT, TensorProto.INT64, ["batch", TEXT_LENGTH])],
        [helper.make_tensor_value_info(TEXT_OUTPUT, TensorProto.FLOAT, ["batch", EMBEDDING_DIM])],
        initializers,
    )
    return stand_in_model(graph, FAMILY)
