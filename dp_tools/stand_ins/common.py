"""What the stand-in builders share: writing a stand-in model folder, and the parts of its
toy graphs (initialisers, one self-attention block, a checked ModelProto).

A STAND-IN folder holds the family's ONNX files with random weights and the real I/O
contract, plus `stand_in.json`: the marker that says "random weights, for tests", with the
sha256 of every file (the loaders refuse a folder whose files do not match it). Weights come
from numpy's generator with a fixed seed: the same seed gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_bytes
from dp_resources.models.registry import STAND_IN_MARKER, ModelFamily
from dp_resources.storage.atomic_files import publish_dir, staging_dir
from dp_tools.tfjs_to_onnx import IR_VERSION, OPSET


def build_stand_in_folder(
    model_dir: Path,
    family: ModelFamily,
    seed: int,
    make_graphs: Callable[[np.random.Generator], dict[str, onnx.ModelProto]],
    notes: dict[str, str],
    stand_in_format: int,
    size: str = "toy",
) -> Path:
    """Write a STAND-IN folder of `family` at `model_dir` (replacing an older stand-in in
    one step): the graphs `make_graphs(numpy generator seeded with seed)` by file name, and
    the marker with `notes` and their digests. `stand_in_format` goes into the version
    (bump it when the graphs change), `size` too unless it is "toy". Refuses to overwrite a
    folder holding a real model."""
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
    data = {file: graphs[file].SerializeToString(deterministic=True) for file in family.files}
    marker = {
        "stand_in": True,
        "name": family.stand_in_name,
        "version": f"stand-in-{'' if size == 'toy' else size + '-'}v{stand_in_format}-seed{seed}",
        "seed": seed,
        **notes,
        "sha256": {file: sha256_bytes(content) for file, content in data.items()},
    }
    try:
        with staging_dir(model_dir) as staging:
            for file, content in data.items():
                (staging / file).write_bytes(content)
            (staging / STAND_IN_MARKER).write_text(
                json.dumps(marker, indent=1, sort_keys=True), encoding="utf-8"
            )
            publish_dir(staging, model_dir)
    except OSError as exc:
        raise DpError(
            ErrorCode.STORAGE_ERROR,
            f"cannot write the {family.label} stand-in to {model_dir}: {exc}",
        ) from exc
    return model_dir


@dataclass(frozen=True)
class StandIn:
    """One family's stand-in: its graph builders by file name (called in that order on one
    seeded generator), how its tokenizer differs from the real one, and its format (raise
    it when the graphs or the tokenizer change: it is part of the version). `size`: "toy"
    (tests: a few MB) or "full" (the production architecture and size, for speed only)."""

    family: ModelFamily
    graphs: Mapping[str, Callable[[np.random.Generator], onnx.ModelProto]]
    tokenizer_note: str = ""
    stand_in_format: int = 1
    size: str = "toy"

    @property
    def notes(self) -> dict[str, str]:
        tokenizer = {"tokenizer": self.tokenizer_note} if self.tokenizer_note else {}
        if self.size == "toy":
            return {**tokenizer, "note": "random weights for tests; outputs carry no meaning"}
        return {
            **tokenizer,
            "size": self.size,
            "note": "random weights at the production size, for speed measurements; "
            "outputs carry no meaning",
        }

    def make_graphs(self, rng: np.random.Generator) -> dict[str, onnx.ModelProto]:
        return {file: make(rng) for file, make in self.graphs.items()}

    def build(self, model_dir: Path, seed: int = 0) -> Path:
        """The STAND-IN folder at `model_dir` (`build_stand_in_folder`); returns it."""
        return build_stand_in_folder(
            model_dir,
            self.family,
            seed,
            self.make_graphs,
            self.notes,
            self.stand_in_format,
            self.size,
        )


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


Tensors = Mapping[str, tuple[int, list]]  # name -> (TensorProto element type, shape)


def stand_in_model(
    family: ModelFamily,
    name: str,
    nodes: list[onnx.NodeProto],
    initializers: list[onnx.TensorProto],
    inputs: Tensors,
    outputs: Tensors,
) -> onnx.ModelProto:
    """The checked ModelProto of a stand-in graph, labelled as a stand-in in its metadata."""
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(n, kind, shape) for n, (kind, shape) in inputs.items()],
        [helper.make_tensor_value_info(n, kind, shape) for n, (kind, shape) in outputs.items()],
        initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=f"dataprocessor {family.name} stand-in",
    )
    model.ir_version = IR_VERSION
    model.doc_string = f"STAND-IN: random weights, not {family.reference}"
    onnx.checker.check_model(model)
    return model
