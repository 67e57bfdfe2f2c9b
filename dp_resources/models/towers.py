"""What the folder families with towers share (CLAP, CLIP, MiDaS): the folder loader,
batched runs, the joint text/media embedder and tokenizers.

A model folder holds one ONNX file per tower (`ModelFamily.towers` in the registry),
optionally a `tokenizer.json` (real models with a text tower) and `model.json`. A STAND-IN
folder also holds `stand_in.json` (dp_tools/stand_ins/): the marker that
says "random weights, for tests", with the sha256 of every tower; a folder whose towers do
not match the marker's digests (half-written, modified) is refused, never loaded.

`load_model_folder` is the one loader: it opens exactly the files `planned_models` lists
(what the manifest's `resolved_model_mapping` describes) and reports their names, versions,
precisions and digests; a tower whose inputs or outputs differ from the family's contract
is refused, and asking for an execution provider that is not there is DEPENDENCY_MISSING
(`OnnxModel`). `run_in_batches` runs a tower batch by batch and checks the output's shape;
`JointEmbedder` is the part of CLAP and CLIP that embeds texts into unit vectors;
`HashedWordTokenizer` is the stand-ins' tokenizer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from dp_core.artifact import ModelUsed
from dp_core.errors import DpError, ErrorCode
from dp_resources.models.onnx_runtime import OnnxModel
from dp_resources.models.registry import (
    STAND_IN_MARKER,
    ModelFamily,
    Tower,
    file_digest,
    folder_label,
    model_folder,
    planned_models,
    read_json_object,
)
from dp_resources.models.runtime import ModelRuntime

# --- loading a model folder ---------------------------------------------------------------


@dataclass
class ModelFolder:
    """The loaded towers of a model folder, by part."""

    towers: dict[str, ModelRuntime]
    stand_in: bool
    tokenizer_file: Path | None


def load_model_folder(
    model_dir: Path | None,
    family: ModelFamily,
    providers: tuple[str, ...],
    intra_op_threads: int,
) -> ModelFolder:
    """The towers in `model_dir` (default `model_folder(family.name)`), as `planned_models`
    lists them: a real export (its tokenizer digested with the text tower) or a stand-in
    (`stand_in.json`, checked against the towers), reported as such."""
    folder = model_folder(family.name, model_dir)
    planned = planned_models(family.name, folder)
    if folder_label(family, folder).engine != "onnxruntime":
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{folder} holds TensorRT engines, which run on Triton only: "
            f"`dp models export {family.name} --from {folder}` and set `runtime: triton`",
        )
    marker = read_json_object(folder / STAND_IN_MARKER, family.how_to_get)
    if marker is not None:
        check_stand_in(folder, marker, family)
    towers: dict[str, ModelRuntime] = {}
    for tower, model_files in zip(family.towers, planned, strict=True):
        model = OnnxModel(
            folder / tower.file,
            name=model_files.name,
            version=model_files.version,
            providers=providers,
            precision=model_files.precision,
            stand_in=model_files.stand_in,
            intra_op_threads=intra_op_threads,
        )
        check_signature(model, tower, folder, family)
        if len(model_files.files) > 1:  # the text tower with its tokenizer
            model.model_used = model.model_used.model_copy(
                update={
                    "weights_digest": model_files.weights_digest,
                    "verified": model_files.verified,
                }
            )
        towers[tower.part] = model
    tokenizer_file = next(
        (
            path
            for model_files in planned
            for name, path in model_files.files.items()
            if name == family.tokenizer_file
        ),
        None,
    )
    return ModelFolder(towers, marker is not None, tokenizer_file)


def check_stand_in(folder: Path, marker: dict, family: ModelFamily) -> None:
    """The marker's digests must match the towers: a half-written stand-in is not loaded."""
    digests = marker.get("sha256")
    digests = digests if isinstance(digests, dict) else {}
    for file in family.files:
        if digests.get(file) != file_digest(folder / file):
            raise DpError(
                ErrorCode.MODEL_NOT_FOUND,
                f"the {family.label} stand-in in {folder} is incomplete or modified ({file}); "
                f"rebuild it with `dp models stand-in {family.name}`",
            )


def check_signature(
    model: ModelRuntime, tower: Tower, folder: Path | str, family: ModelFamily
) -> None:
    """The model's inputs and outputs must be the tower's contract; MODEL_NOT_FOUND else."""
    inputs_match = sorted(model.input_names) == sorted(tower.inputs)
    if not inputs_match or not set(tower.outputs) <= set(model.output_names):
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{model.model_used.name} in {folder} has inputs {model.input_names} and outputs "
            f"{model.output_names}, expected inputs {list(tower.inputs)} and outputs "
            f"{list(tower.outputs)} (see {family.module}); get it again with "
            f"{family.how_to_get}",
        )


# --- running towers -----------------------------------------------------------------------


def run_in_batches(
    model: OnnxModel,
    count: int,
    batch_size: int,
    batch_inputs: Callable[[slice], dict[str, np.ndarray]],
    output: str,
    item_shape: tuple[int, ...],
) -> np.ndarray:
    """float32 [count, *item_shape]: `output` of `model` over items [0, count), run on
    `batch_inputs(slice)` of at most `batch_size` items; a wrong shape is MODEL_BAD_OUTPUT."""
    parts = []
    for start in range(0, count, batch_size):
        batch = slice(start, min(start + batch_size, count))
        result = np.asarray(model.run(batch_inputs(batch))[output], dtype=np.float32)
        expected = (batch.stop - batch.start, *item_shape)
        if result.shape != expected:
            raise DpError(
                ErrorCode.MODEL_BAD_OUTPUT,
                f"{model.model_used.name}: {output} has shape {result.shape}, expected {expected}",
            )
        parts.append(result)
    return np.concatenate(parts) if parts else np.zeros((0, *item_shape), np.float32)


def check_batch_size(family: ModelFamily, batch_size: int) -> None:
    if batch_size < 1:
        raise DpError(ErrorCode.CONFIG_INVALID, f"{family.label} batch size {batch_size} < 1")


def l2_normalised(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero), float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


class JointEmbedder:
    """What CLAP and CLIP share: a text tower and a media tower (audio, image) into one
    space, run in batches, giving L2-normalised float32 [n, D] embeddings (a dot product is
    a cosine similarity). A subclass is a dataclass with one `OnnxModel` attribute per
    tower part of its `family`, `tokenizer` and `batch_size`."""

    family: ClassVar[ModelFamily]
    embedding_dim: ClassVar[int]
    tokenizer: Tokenizer
    batch_size: int

    def __post_init__(self) -> None:
        check_batch_size(self.family, self.batch_size)

    @property
    def models_used(self) -> list[ModelUsed]:
        """One entry per tower, in the family's order."""
        return [getattr(self, tower.part).model_used for tower in self.family.towers]

    @property
    def stand_in(self) -> bool:
        return getattr(self, self.family.tokenizer_part).model_used.stand_in

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [n, D] unit vectors, one per text."""
        texts = list(texts)
        return self.unit_embeddings(
            self.family.tokenizer_part,
            len(texts),
            lambda batch: self.tokenizer.encode(texts[batch]),
        )

    def unit_embeddings(
        self, part: str, count: int, batch_arrays: Callable[[slice], Sequence[np.ndarray]]
    ) -> np.ndarray:
        """float32 [count, D] unit vectors from tower `part`, fed `batch_arrays(slice)` in
        the order of the tower's inputs (a text tower without a mask input takes the ids
        alone from the tokenizer's (ids, mask))."""
        tower = self.family.tower(part)
        embeddings = run_in_batches(
            getattr(self, part),
            count,
            self.batch_size,
            lambda batch: dict(zip(tower.inputs, batch_arrays(batch), strict=False)),
            tower.output,
            (self.embedding_dim,),
        )
        return l2_normalised(embeddings)


# --- tokenizers ---------------------------------------------------------------------------


class Tokenizer(Protocol):
    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """`input_ids`, `attention_mask` (1 on tokens, 0 on padding): int64 [B, length]."""
        ...


def load_hf_tokenizer(path: Path, family: ModelFamily):
    """A Hugging Face `tokenizers.Tokenizer` from `path`; the library is optional at run time
    (needed only by real models with a text tower)."""
    try:
        from tokenizers import Tokenizer as HfTokenizer
    except ImportError as exc:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"the {family.label} text tower needs the `tokenizers` library to read "
            f"{path.name}: pip install tokenizers",
        ) from exc
    try:
        return HfTokenizer.from_file(str(path))
    except Exception as exc:  # the library raises its own untyped errors for bad files
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND, f"cannot read {path}: {exc}; {family.how_to_get}"
        ) from exc


def framed_token_ids(
    rows: Sequence[Sequence[int]], *, bos_id: int, eos_id: int, pad_id: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """`[bos, tokens..., eos]` per row, truncated so that `eos` stays last, padded with
    `pad_id` to `length`: `input_ids` and `attention_mask` (1 on tokens), int64 [B, length]."""
    ids = np.full((len(rows), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), length), dtype=np.int64)
    for row, tokens in enumerate(rows):
        framed = [*[bos_id, *tokens][: length - 1], eos_id]
        ids[row, : len(framed)] = framed
        mask[row, : len(framed)] = 1
    return ids, mask


@dataclass(frozen=True)
class HashedWordTokenizer:
    """STAND-IN ONLY: lower-cased words hashed (blake2b) onto the ids of a `vocab_size`
    vocabulary that are not special, framed like the real tokenizer (`framed_token_ids`).
    Deterministic, with the real tokenizer's shapes and special ids."""

    vocab_size: int
    bos_id: int
    eos_id: int
    pad_id: int
    length: int

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """`input_ids`, `attention_mask`: int64 [B, length] each."""
        rows = [list(map(self.word_id, re.findall(r"\w+", text.lower()))) for text in texts]
        return framed_token_ids(
            rows, bos_id=self.bos_id, eos_id=self.eos_id, pad_id=self.pad_id, length=self.length
        )

    def word_id(self, word: str) -> int:
        special = sorted({self.bos_id, self.eos_id, self.pad_id})
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        index = int.from_bytes(digest, "little") % (self.vocab_size - len(special))
        for special_id in special:  # the index-th id that is not special
            index += index >= special_id
        return index
