"""What the model families whose weights are not available offline share (CLAP, CLIP, MiDaS):
the model folder, its loader, batched runs, the stand-in builder and the stand-in graphs' parts.

A model folder holds one ONNX file per tower (`ModelFamily.towers`), optionally a
`tokenizer.json` (real models with a text tower) and `model.json` (`{"name", "version",
"precision"}` from the exporter). A STAND-IN folder also holds `stand_in.json`: the marker
that says "random weights, for tests", with the sha256 of every tower; its towers are then
reported with `stand_in=True` and the family's stand-in name, and a folder whose towers do
not match the marker's digests (half-written, modified) is refused, never loaded.

`load_model_folder` is the one loader: missing towers / tokenizer are MODEL_NOT_FOUND with
how to get them, a tower whose inputs or output differ from the family's contract is
refused, and asking for an execution provider that is not there is DEPENDENCY_MISSING
(`OnnxModel`). `build_stand_in_folder` writes a stand-in deterministically (numpy's
generator with a fixed seed: the same seed gives the same bytes) and atomically, and never
over a real model. `run_in_batches` runs a tower batch by batch and checks the output's
shape; `JointEmbedder` is the part of CLAP and CLIP that embeds texts into unit vectors.

The graph helpers build toy versions of the real architectures with the `onnx` helper API
(initialisers, one self-attention block, a checked ModelProto); `HashedWordTokenizer` is
the stand-ins' tokenizer: lower-cased words hashed into a small vocabulary, framed with
the real tokenizer's special ids and length.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np
import onnx
from onnx import helper, numpy_helper

from dp_core.artifact import ModelUsed
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file
from dp_resources.models.families.packaged import model_cache_dir
from dp_resources.models.onnx_runtime import OnnxModel
from dp_resources.models.runtime import ModelRuntime

STAND_IN_MARKER = "stand_in.json"
MODEL_INFO_FILE = "model.json"
OPSET = 17
IR_VERSION = 8


# --- model families and their folders -----------------------------------------------------


@dataclass(frozen=True)
class Tower:
    """One ONNX file of a model folder and its I/O contract."""

    file: str
    part: str  # appended to the model name ("image" -> "<name>-image"); "" for a single file
    inputs: tuple[str, ...]
    output: str


@dataclass(frozen=True)
class ModelFamily:
    """A model family: its folder contract, names and how a user gets it."""

    key: str  # `dp models pull <key>`, and the default folder name
    label: str  # for messages: "CLAP"
    module: str  # the module that documents the contract
    towers: tuple[Tower, ...]
    real_name: str  # in models_used, when model.json names none
    reference: str  # the real model, for people: "OpenCLIP ViT-B-32"
    stand_in_name: str
    stand_in_format: int  # bump when the stand-in graphs or tokenizer change
    tokenizer_file: str | None = None  # the real model's tokenizer, digested with...
    tokenizer_part: str = "text"  # ...this tower
    tokenizer_description: str = ""

    @property
    def how_to_get(self) -> str:
        return (
            f"run `dp models pull {self.key}` where a network exists, "
            f"or `dp models stand-in {self.key}` for tests"
        )

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(tower.file for tower in self.towers)

    def tower(self, part: str) -> Tower:
        return next(tower for tower in self.towers if tower.part == part)


def default_model_dir(key: str) -> Path:
    """`$DP_MODEL_DIR/<key>`, else `<model cache>/<key>` (`$DP_MODEL_CACHE` or ~/.cache/...)."""
    override = os.environ.get("DP_MODEL_DIR")
    return (Path(override) if override else model_cache_dir()) / key


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
    """The towers in `model_dir` (default `default_model_dir(family.key)`): a real export
    (with its tokenizer when the family has one) or a stand-in (`stand_in.json`), reported
    as such."""
    folder = Path(model_dir) if model_dir is not None else default_model_dir(family.key)
    missing = [file for file in family.files if not (folder / file).is_file()]
    if missing:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{family.label} model not found: {', '.join(missing)} missing in {folder}; "
            f"{family.how_to_get}",
        )
    marker = read_json(folder / STAND_IN_MARKER, family)
    info = read_json(folder / MODEL_INFO_FILE, family) or {}
    tokenizer_file = None
    if marker is not None:
        check_stand_in(folder, marker, family)
        name, version = family.stand_in_name, str(marker.get("version", "unknown"))
    else:
        if family.tokenizer_file is not None:
            tokenizer_file = folder / family.tokenizer_file
            if not tokenizer_file.is_file():
                raise DpError(
                    ErrorCode.MODEL_NOT_FOUND,
                    f"{family.label} model in {folder} has no {family.tokenizer_file} "
                    f"({family.tokenizer_description}); {family.how_to_get}",
                )
        name = str(info.get("name", family.real_name))
        version = str(info.get("version", "unknown"))
    # A quantized copy says its precision in model.json (and a stand-in's in its marker).
    precision = str(info.get("precision", (marker or {}).get("precision", "fp32")))
    towers = {}
    for tower in family.towers:
        model = OnnxModel(
            folder / tower.file,
            name=f"{name}-{tower.part}" if tower.part else name,
            version=version,
            providers=providers,
            precision=precision,
            stand_in=marker is not None,
            intra_op_threads=intra_op_threads,
        )
        check_signature(model, tower, folder, family)
        towers[tower.part] = model
    if tokenizer_file is not None:
        text = towers[family.tokenizer_part]
        text_file = family.tower(family.tokenizer_part).file
        digest = files_digest([folder / text_file, tokenizer_file])
        text.model_used = text.model_used.model_copy(update={"weights_digest": digest})
    return ModelFolder(towers, marker is not None, tokenizer_file)


def files_digest(paths: Sequence[Path]) -> str:
    """sha256 over the `name sha256` lines of the files, in order."""
    lines = "".join(f"{p.name} {sha256_file(p)}\n" for p in paths)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def read_json(path: Path, family: ModelFamily) -> dict | None:
    """The JSON object in `path`, None when there is no file; unreadable is MODEL_NOT_FOUND."""
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND, f"cannot read {path}: {exc}; {family.how_to_get}"
        ) from exc
    if not isinstance(value, dict):
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND, f"{path} is not a JSON object; {family.how_to_get}"
        )
    return value


def check_stand_in(folder: Path, marker: dict, family: ModelFamily) -> None:
    """The marker's digests must match the towers: a half-written stand-in is not loaded."""
    digests = marker.get("sha256")
    digests = digests if isinstance(digests, dict) else {}
    for file in family.files:
        if digests.get(file) != sha256_file(folder / file):
            raise DpError(
                ErrorCode.MODEL_NOT_FOUND,
                f"the {family.label} stand-in in {folder} is incomplete or modified ({file}); "
                f"rebuild it with `dp models stand-in {family.key}`",
            )


def check_signature(
    model: ModelRuntime, tower: Tower, folder: Path | str, family: ModelFamily
) -> None:
    if sorted(model.input_names) != sorted(tower.inputs) or tower.output not in model.output_names:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{model.model_used.name} in {folder} has inputs {model.input_names} and outputs "
            f"{model.output_names}, expected inputs {list(tower.inputs)} and output "
            f"{tower.output!r} (see {family.module}); re-export it with "
            f"`dp models export {family.key}`",
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


# --- building a stand-in folder -----------------------------------------------------------


def build_stand_in_folder(
    model_dir: Path,
    family: ModelFamily,
    seed: int,
    make_graphs: Callable[[np.random.Generator], dict[str, onnx.ModelProto]],
    notes: dict[str, str],
) -> Path:
    """Write a STAND-IN folder of `family` at `model_dir`, atomically: the graphs
    `make_graphs(numpy generator seeded with seed)` (by file name) and the marker with
    `notes` and their digests. Refuses to overwrite a folder that holds a real model."""
    model_dir = Path(model_dir)
    if not (model_dir / STAND_IN_MARKER).exists() and any(
        (model_dir / file).exists() for file in family.files
    ):
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"{model_dir} holds a real {family.label} model: "
            "refusing to overwrite it with a stand-in",
        )
    graphs = make_graphs(np.random.default_rng(seed))
    try:
        model_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=model_dir.parent, prefix=f".{model_dir.name}-"))
        try:
            for file in family.files:
                (staging / file).write_bytes(graphs[file].SerializeToString(deterministic=True))
            marker = {
                "stand_in": True,
                "name": family.stand_in_name,
                "version": f"stand-in-v{family.stand_in_format}-seed{seed}",
                "seed": seed,
                **notes,
                "sha256": {file: sha256_file(staging / file) for file in family.files},
            }
            (staging / STAND_IN_MARKER).write_text(
                json.dumps(marker, indent=1, sort_keys=True), encoding="utf-8"
            )
            _publish(staging, model_dir, family.files)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise DpError(
            ErrorCode.STORAGE_ERROR,
            f"cannot write the {family.label} stand-in to {model_dir}: {exc}",
        ) from exc
    return model_dir


def _publish(staging: Path, model_dir: Path, files: Sequence[str]) -> None:
    """A new folder appears by one rename; an existing stand-in gets its files replaced one
    by one (each rename atomic) with the marker last: the loader checks the marker's digests
    against the towers, so a reader never loads a half-replaced set."""
    try:
        staging.rename(model_dir)
        return
    except OSError:
        if not model_dir.is_dir():
            raise
    for file in (*files, STAND_IN_MARKER):
        os.replace(staging / file, model_dir / file)


# --- stand-in graph parts -----------------------------------------------------------------


def weights(
    rng: np.random.Generator, name: str, shape: tuple[int, ...], scale: float | None = None
) -> onnx.TensorProto:
    """Gaussian weights, by default scaled 1/sqrt(shape[0]) (the fan-in of a MatMul's right
    operand: activations keep their size)."""
    scale = 1.0 / np.sqrt(shape[0]) if scale is None else scale
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def bias(rng: np.random.Generator, name: str, size: int) -> onnx.TensorProto:
    """Non-zero, so that an all-zero input still maps to a non-zero vector."""
    return numpy_helper.from_array((rng.standard_normal(size) * 0.02).astype(np.float32), name)


def const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def self_attention_block(
    rng: np.random.Generator,
    tokens_in: str,
    output: str,
    width: int,
    additive_mask: str | None = None,
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """One single-head self-attention block over [B, T, width] `tokens_in`: layer norm,
    scaled dot-product attention (plus `additive_mask` [T, T] on the scores, e.g. a causal
    mask of 0 / -1e4), residual. Nodes and initialisers; its names are fixed, so a graph
    holds one block."""
    initializers = [
        const("ln_scale", np.ones(width, np.float32)),
        const("ln_bias", np.zeros(width, np.float32)),
        const("attn_scale", np.array(1.0 / np.sqrt(width), np.float32)),
        weights(rng, "w_q", (width, width)),
        weights(rng, "w_k", (width, width)),
        weights(rng, "w_v", (width, width)),
    ]
    node = helper.make_node
    scaled = "scores" if additive_mask is None else "scores_unmasked"
    nodes = [
        node("LayerNormalization", [tokens_in, "ln_scale", "ln_bias"], ["tokens"], axis=-1),
        node("MatMul", ["tokens", "w_q"], ["q"]),
        node("MatMul", ["tokens", "w_k"], ["k"]),
        node("MatMul", ["tokens", "w_v"], ["v"]),
        node("Transpose", ["k"], ["k_t"], perm=[0, 2, 1]),
        node("MatMul", ["q", "k_t"], ["scores_raw"]),
        node("Mul", ["scores_raw", "attn_scale"], [scaled]),
        *([] if additive_mask is None else [node("Add", [scaled, additive_mask], ["scores"])]),
        node("Softmax", ["scores"], ["attention"], axis=-1),
        node("MatMul", ["attention", "v"], ["attended"]),
        node("Add", ["tokens", "attended"], [output]),
    ]
    return nodes, initializers


def stand_in_model(graph: onnx.GraphProto, family: ModelFamily) -> onnx.ModelProto:
    """The checked ModelProto of a stand-in graph, labelled as a stand-in in its metadata."""
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=f"dataprocessor {family.key} stand-in",
    )
    model.ir_version = IR_VERSION
    model.doc_string = f"STAND-IN: random weights, not {family.reference}"
    onnx.checker.check_model(model)
    return model
