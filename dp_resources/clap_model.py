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
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dp_core.artifact import ModelUsed
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file
from dp_resources.onnx_runtime import OnnxModel
from dp_resources.packaged_models import model_cache_dir

SAMPLE_RATE = 48000
WINDOW_SAMPLES = 480000  # 10 s at 48 kHz
EMBEDDING_DIM = 512
TEXT_LENGTH = 77

AUDIO_FILE = "clap_audio.onnx"
TEXT_FILE = "clap_text.onnx"
TOKENIZER_FILE = "tokenizer.json"
MODEL_INFO_FILE = "model.json"
STAND_IN_MARKER = "stand_in.json"

AUDIO_INPUT = "waveform"
AUDIO_OUTPUT = "audio_embedding"
TEXT_INPUTS = ("input_ids", "attention_mask")
TEXT_OUTPUT = "text_embedding"

REAL_NAME = "laion-clap-htsat"
STAND_IN_NAME = "clap-htsat-stand-in"
STAND_IN_FORMAT = 1  # bump when the stand-in graphs or tokenizer change
HOW_TO_GET = (
    "run `dp models pull clap` where a network exists, or `dp models stand-in clap` for tests"
)

# RoBERTa's special tokens; the stand-in tokenizer uses the same ids.
BOS_ID, PAD_ID, EOS_ID = 0, 1, 2
_STAND_IN_VOCAB = 1024
_STAND_IN_FRAME = 960  # 20 ms at 48 kHz; 500 frames per window
_STAND_IN_BANDS = 64
_STAND_IN_WIDTH = 256
_OPSET = 17
_IR_VERSION = 8


class Tokenizer(Protocol):
    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """`input_ids`, `attention_mask`: int64 [B, 77] each."""
        ...


class RobertaTokenizer:
    """The real model's BPE tokenizer (`tokenizer.json`), via the `tokenizers` library."""

    def __init__(self, path: Path):
        try:
            from tokenizers import Tokenizer as HfTokenizer
        except ImportError as exc:
            raise DpError(
                ErrorCode.DEPENDENCY_MISSING,
                "the CLAP text tower needs the `tokenizers` library to read "
                f"{TOKENIZER_FILE}: pip install tokenizers",
            ) from exc
        self._tokenizer = HfTokenizer.from_file(str(path))
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


class StandInTokenizer:
    """STAND-IN ONLY: lower-cased words hashed (blake2b) into a 1024-token vocabulary,
    `<s> words </s>` padded with `<pad>` to 77. Deterministic, same shapes as RoBERTa's."""

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.full((len(texts), TEXT_LENGTH), PAD_ID, dtype=np.int64)
        mask = np.zeros((len(texts), TEXT_LENGTH), dtype=np.int64)
        for row, text in enumerate(texts):
            tokens = [BOS_ID, *map(_hashed_token, re.findall(r"\w+", text.lower()))]
            tokens = [*tokens[: TEXT_LENGTH - 1], EOS_ID]
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        return ids, mask


def _hashed_token(word: str) -> int:
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
    return 3 + int.from_bytes(digest, "little") % (_STAND_IN_VOCAB - 3)


def _l2_normalised(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass
class ClapModel:
    """The two CLAP towers and the tokenizer; see the module docstring for the contract."""

    audio: OnnxModel
    text: OnnxModel
    tokenizer: Tokenizer
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise DpError(ErrorCode.CONFIG_INVALID, f"CLAP batch size {self.batch_size} < 1")

    @property
    def models_used(self) -> list[ModelUsed]:
        return [self.audio.model_used, self.text.model_used]

    @property
    def stand_in(self) -> bool:
        return self.audio.model_used.stand_in

    def embed_audio(self, waveforms: np.ndarray) -> np.ndarray:
        """float32 [B, 512] unit vectors from mono 48 kHz windows float32 [B, 480000]."""
        waveforms = np.asarray(waveforms, dtype=np.float32)
        if waveforms.ndim != 2 or waveforms.shape[1] != WINDOW_SAMPLES:
            raise DpError(
                ErrorCode.INTERNAL,
                f"CLAP audio takes [B, {WINDOW_SAMPLES}] windows, got {waveforms.shape}",
            )
        parts = [
            self._run(self.audio, {AUDIO_INPUT: waveforms[i : i + self.batch_size]}, AUDIO_OUTPUT)
            for i in range(0, len(waveforms), self.batch_size)
        ]
        return _l2_normalised(np.concatenate(parts) if parts else _empty())

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [B, 512] unit vectors, one per text."""
        texts = list(texts)
        parts = []
        for i in range(0, len(texts), self.batch_size):
            ids, mask = self.tokenizer.encode(texts[i : i + self.batch_size])
            inputs = {TEXT_INPUTS[0]: ids, TEXT_INPUTS[1]: mask}
            parts.append(self._run(self.text, inputs, TEXT_OUTPUT))
        return _l2_normalised(np.concatenate(parts) if parts else _empty())

    @staticmethod
    def _run(model: OnnxModel, inputs: dict[str, np.ndarray], output: str) -> np.ndarray:
        n = len(next(iter(inputs.values())))
        result = np.asarray(model.run(inputs)[output], dtype=np.float32)
        if result.shape != (n, EMBEDDING_DIM):
            raise DpError(
                ErrorCode.MODEL_BAD_OUTPUT,
                f"{model.model_used.name}: {output} has shape {result.shape}, "
                f"expected ({n}, {EMBEDDING_DIM})",
            )
        return result


def _empty() -> np.ndarray:
    return np.zeros((0, EMBEDDING_DIM), np.float32)


def default_clap_dir() -> Path:
    """`$DP_MODEL_DIR/clap`, else `<model cache>/clap` (`$DP_MODEL_CACHE` or ~/.cache/...)."""
    override = os.environ.get("DP_MODEL_DIR")
    return (Path(override) if override else model_cache_dir()) / "clap"


def load_clap(
    model_dir: Path | None = None,
    *,
    providers: tuple[str, ...] = ("CPUExecutionProvider",),
    batch_size: int = 8,
    intra_op_threads: int = 0,
) -> ClapModel:
    """The CLAP model in `model_dir` (default `default_clap_dir()`): a real export with its
    `tokenizer.json`, or a stand-in folder (`stand_in.json`), reported as such."""
    folder = Path(model_dir) if model_dir is not None else default_clap_dir()
    missing = [name for name in (AUDIO_FILE, TEXT_FILE) if not (folder / name).is_file()]
    if missing:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"CLAP model not found: {', '.join(missing)} missing in {folder}; {HOW_TO_GET}",
        )
    marker = _read_json(folder / STAND_IN_MARKER)
    stand_in = marker is not None
    if stand_in:
        _check_stand_in(folder, marker)
        name, version, precision = STAND_IN_NAME, str(marker["version"]), "fp32"
        tokenizer: Tokenizer = StandInTokenizer()
        tokenizer_file = None
    else:
        tokenizer_file = folder / TOKENIZER_FILE
        if not tokenizer_file.is_file():
            raise DpError(
                ErrorCode.MODEL_NOT_FOUND,
                f"CLAP model in {folder} has no {TOKENIZER_FILE} (the RoBERTa tokenizer); "
                f"{HOW_TO_GET}",
            )
        info = _read_json(folder / MODEL_INFO_FILE) or {}
        name = str(info.get("name", REAL_NAME))
        version = str(info.get("version", "unknown"))
        precision = str(info.get("precision", "fp32"))
        tokenizer = RobertaTokenizer(tokenizer_file)

    def tower(file: str, part: str) -> OnnxModel:
        return OnnxModel(
            folder / file,
            name=f"{name}-{part}",
            version=version,
            providers=providers,
            precision=precision,
            stand_in=stand_in,
            intra_op_threads=intra_op_threads,
        )

    audio, text = tower(AUDIO_FILE, "audio"), tower(TEXT_FILE, "text")
    _check_signature(audio, [AUDIO_INPUT], AUDIO_OUTPUT, folder)
    _check_signature(text, list(TEXT_INPUTS), TEXT_OUTPUT, folder)
    if tokenizer_file is not None:
        digest = _files_digest([folder / TEXT_FILE, tokenizer_file])
        text.model_used = text.model_used.model_copy(update={"weights_digest": digest})
    return ClapModel(audio, text, tokenizer, batch_size=batch_size)


def _files_digest(paths: Sequence[Path]) -> str:
    """sha256 over the `name sha256` lines of the files, in order."""
    lines = "".join(f"{p.name} {sha256_file(p)}\n" for p in paths)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND, f"cannot read {path}: {exc}; {HOW_TO_GET}"
        ) from exc
    if not isinstance(value, dict):
        raise DpError(ErrorCode.MODEL_NOT_FOUND, f"{path} is not a JSON object; {HOW_TO_GET}")
    return value


def _check_stand_in(folder: Path, marker: dict) -> None:
    """The marker's digests must match the towers: a half-written stand-in is not loaded."""
    digests = marker.get("sha256", {})
    for file in (AUDIO_FILE, TEXT_FILE):
        if digests.get(file) != sha256_file(folder / file):
            raise DpError(
                ErrorCode.MODEL_NOT_FOUND,
                f"the CLAP stand-in in {folder} is incomplete or modified ({file}); "
                "rebuild it with `dp models stand-in clap`",
            )


def _check_signature(model: OnnxModel, inputs: list[str], output: str, folder: Path) -> None:
    if sorted(model.input_names) != sorted(inputs) or output not in model.output_names:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{model.model_used.name} in {folder} has inputs {model.input_names} and outputs "
            f"{model.output_names}, expected inputs {inputs} and output {output!r} "
            f"(see dp_resources/clap_model.py); re-export it with `dp models export clap`",
        )


# --- the stand-in -------------------------------------------------------------------------


def build_clap_stand_in(model_dir: Path, seed: int = 0) -> Path:
    """Write a STAND-IN CLAP model folder (random weights from `seed`, the real I/O
    contract, a `stand_in.json` marker) at `model_dir`, atomically; returns `model_dir`.
    Refuses to overwrite a folder that holds a real model."""
    model_dir = Path(model_dir)
    if (model_dir / AUDIO_FILE).exists() and not (model_dir / STAND_IN_MARKER).exists():
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"{model_dir} holds a real CLAP model: refusing to overwrite it with a stand-in",
        )
    rng = np.random.default_rng(seed)
    audio = _stand_in_audio_graph(rng)
    text = _stand_in_text_graph(rng)
    try:
        model_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=model_dir.parent, prefix=f".{model_dir.name}-"))
        try:
            for file, model in ((AUDIO_FILE, audio), (TEXT_FILE, text)):
                (staging / file).write_bytes(model.SerializeToString(deterministic=True))
            marker = {
                "stand_in": True,
                "name": STAND_IN_NAME,
                "version": f"stand-in-v{STAND_IN_FORMAT}-seed{seed}",
                "seed": seed,
                "tokenizer": "stand-in: hashed words, 1024 tokens (not RoBERTa BPE)",
                "note": "random weights for tests; embeddings carry no meaning",
                "sha256": {f: sha256_file(staging / f) for f in (AUDIO_FILE, TEXT_FILE)},
            }
            (staging / STAND_IN_MARKER).write_text(
                json.dumps(marker, indent=1, sort_keys=True), encoding="utf-8"
            )
            _publish(staging, model_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise DpError(
            ErrorCode.STORAGE_ERROR, f"cannot write the CLAP stand-in to {model_dir}: {exc}"
        ) from exc
    return model_dir


def _publish(staging: Path, model_dir: Path) -> None:
    """A new folder appears by one rename; an existing stand-in gets its files replaced one
    by one (each rename atomic) with the marker last: `load_clap` checks the marker's
    digests against the towers, so a reader never loads a half-replaced pair."""
    try:
        staging.rename(model_dir)
        return
    except OSError:
        if not model_dir.is_dir():
            raise
    for file in (AUDIO_FILE, TEXT_FILE, STAND_IN_MARKER):
        os.replace(staging / file, model_dir / file)


def _weights(
    rng: np.random.Generator, name: str, shape: tuple[int, ...], scale: float | None = None
) -> onnx.TensorProto:
    """Gaussian weights, by default scaled 1/sqrt(fan-in) (activations keep their size)."""
    scale = 1.0 / np.sqrt(shape[0]) if scale is None else scale
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def _bias(rng: np.random.Generator, name: str, size: int) -> onnx.TensorProto:
    """Non-zero, so that silence (all-zero features) still maps to a non-zero vector."""
    return numpy_helper.from_array((rng.standard_normal(size) * 0.02).astype(np.float32), name)


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def _stand_in_model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", _OPSET)],
        producer_name="dataprocessor clap stand-in",
    )
    model.ir_version = _IR_VERSION
    model.doc_string = "STAND-IN: random weights, not LAION CLAP"
    onnx.checker.check_model(model)
    return model


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
    initializers = [
        _const("frame_shape", np.array([-1, frames, _STAND_IN_FRAME], np.int64)),
        _const("proj_cos", cos),
        _const("proj_sin", sin),
        _const("power_floor", np.array(1e-8, np.float32)),
        _const("ln_scale", np.ones(bands, np.float32)),
        _const("ln_bias", np.zeros(bands, np.float32)),
        _const("attn_scale", np.array(1.0 / np.sqrt(bands), np.float32)),
        _weights(rng, "w_q", (bands, bands)),
        _weights(rng, "w_k", (bands, bands)),
        _weights(rng, "w_v", (bands, bands)),
        _weights(rng, "w_1", (2 * bands, width)),
        _bias(rng, "b_1", width),
        _weights(rng, "w_2", (width, EMBEDDING_DIM)),
        _bias(rng, "b_2", EMBEDDING_DIM),
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
        node("LayerNormalization", ["log_power", "ln_scale", "ln_bias"], ["tokens"], axis=-1),
        node("MatMul", ["tokens", "w_q"], ["q"]),
        node("MatMul", ["tokens", "w_k"], ["k"]),
        node("MatMul", ["tokens", "w_v"], ["v"]),
        node("Transpose", ["k"], ["k_t"], perm=[0, 2, 1]),
        node("MatMul", ["q", "k_t"], ["scores_raw"]),
        node("Mul", ["scores_raw", "attn_scale"], ["scores"]),
        node("Softmax", ["scores"], ["attention"], axis=-1),
        node("MatMul", ["attention", "v"], ["attended"]),
        node("Add", ["tokens", "attended"], ["hidden"]),
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
    return _stand_in_model(graph)


def _stand_in_text_graph(rng: np.random.Generator) -> onnx.ModelProto:
    width = _STAND_IN_WIDTH
    initializers = [
        _weights(rng, "token_embedding", (_STAND_IN_VOCAB, width), scale=1.0),
        _const("sum_axis", np.array([1], np.int64)),
        _const("minus_one", np.array([-1], np.int64)),
        _const("count_floor", np.array(1.0, np.float32)),
        _weights(rng, "w_1", (width, width)),
        _bias(rng, "b_1", width),
        _weights(rng, "w_2", (width, EMBEDDING_DIM)),
        _bias(rng, "b_2", EMBEDDING_DIM),
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
    return _stand_in_model(graph)
