"""TensorRT engines (`.plan`) from an ONNX model folder: GPU machines only.

`build_engine_folder` parses each ONNX file of a model folder with the `tensorrt` Python
API, builds a serialized engine (fp32, or fp16 with `fp16=True` where the GPU supports it)
with an optimisation profile over the dynamic batch dimension (1..`max_batch`), and writes
`<stem>.plan` files plus a `model.json` (engine tensorrt, precision, digests) in a new
folder. An engine is tied to the GPU model and TensorRT version that built it: both are
recorded, and Triton's `tensorrt_plan` backend serves the files.

Without the `tensorrt` package or a CUDA GPU this is DEPENDENCY_MISSING, never a CPU
substitute.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import digest_of_files, sha256_file
from dp_resources.models.registry import (
    MODEL_INFO_FILE,
    STAND_IN_MARKER,
    TENSORRT_SUFFIX,
    describe_folder,
    family,
)
from dp_resources.storage.atomic_files import publish_copy, publish_dir, publish_text, staging_dir

TENSORRT_PIN = "tensorrt-cu13==11.4.0.106"
_WORKSPACE_BYTES = 4 << 30


def require_tensorrt():
    """The `tensorrt` module and a builder on a CUDA GPU, or DEPENDENCY_MISSING saying what
    to do; never a CPU substitute."""
    try:
        import tensorrt
    except ImportError as exc:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            "building a TensorRT engine needs the `tensorrt` package, which is not installed: "
            f"pip install {TENSORRT_PIN} on a machine with an NVIDIA GPU (match the TensorRT "
            "version of your Triton image), or serve the ONNX folder with onnxruntime / "
            "Triton's onnxruntime backend instead",
        ) from exc
    logger = tensorrt.Logger(tensorrt.Logger.ERROR)
    try:
        builder = tensorrt.Builder(logger)
    except Exception as exc:  # TensorRT raises untyped errors when no GPU is usable
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"TensorRT cannot use a GPU here ({exc}); build engines on a CUDA machine",
        ) from exc
    if builder is None:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            "TensorRT found no usable CUDA GPU here; build engines on a CUDA machine",
        )
    return tensorrt, builder, logger


def build_engine(onnx_path: Path, plan_path: Path, *, fp16: bool, max_batch: int = 64) -> None:
    """Build one serialized engine from `onnx_path` into `plan_path`.

    `fp16`: with an fp32 ONNX file, TensorRT may pick fp16 kernels (BuilderFlag.FP16, where
    this TensorRT still has it); an fp16 ONNX file (`dp models quantize --mode fp16`) is
    built as a strongly typed network, its precision taken from the graph."""
    tensorrt, builder, logger = require_tensorrt()
    flags = 0
    if not fp16 or not hasattr(tensorrt.BuilderFlag, "FP16"):
        strongly = getattr(tensorrt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
        if strongly is not None:
            flags = 1 << int(strongly)
    network = builder.create_network(flags)  # explicit batch: the only mode since TRT 10
    parser = tensorrt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise DpError(ErrorCode.MODEL_BAD_OUTPUT, f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(tensorrt.MemoryPoolType.WORKSPACE, _WORKSPACE_BYTES)
    if fp16 and flags == 0:
        config.set_flag(tensorrt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        shape = list(tensor.shape)
        if shape and shape[0] == -1:
            rest = [max(d, 1) for d in shape[1:]]
            opt = min(8, max_batch)
            profile.set_shape(tensor.name, [1, *rest], [opt, *rest], [max_batch, *rest])
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise DpError(ErrorCode.MODEL_BAD_OUTPUT, f"TensorRT failed to build {onnx_path}")
    plan_path.write_bytes(bytes(serialized))


def _gpu_name() -> str:
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0))
    except Exception:  # the name is informative only; the engine is built either way
        return "unknown GPU"


def _has_fp16_flag() -> bool:
    import tensorrt

    return hasattr(tensorrt.BuilderFlag, "FP16")


def build_engine_folder(
    source: Path, target: Path, family_name: str, *, fp16: bool = False, max_batch: int = 64
) -> Path:
    """TensorRT engines for every ONNX file of the fp32 `family_name` folder `source`,
    written with a `model.json` (engine tensorrt) at `target`; returns `target`."""
    model_family = family(family_name)
    described = describe_folder(Path(source), family_name)
    if not described.present:
        raise DpError(ErrorCode.MODEL_NOT_FOUND, f"cannot build an engine: {described.problem}")
    tensorrt, _, _ = require_tensorrt()
    if described.engine != "onnxruntime" or described.precision == "int8":
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"{source} is {described.engine} {described.precision}: TensorRT engines are "
            "built from an fp32 or fp16 ONNX folder",
        )
    if fp16 and described.precision == "fp32" and not _has_fp16_flag():
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            "this TensorRT builds fp16 only from an fp16 ONNX folder: run "
            f"`dp models quantize {family_name} --mode fp16` first and build from that",
        )
    target = Path(target)
    with staging_dir(target) as staging:
        plans = {}
        for file in model_family.files:
            plan = Path(file).stem + TENSORRT_SUFFIX
            build_engine(
                Path(source) / file,
                staging / plan,
                fp16=fp16 and described.precision == "fp32",
                max_batch=max_batch,
            )
            plans[plan] = sha256_file(staging / plan)
        for item in Path(source).iterdir():
            keep = item.is_file() and item.name not in model_family.files
            if keep and item.name not in (MODEL_INFO_FILE, STAND_IN_MARKER):
                shutil.copy2(item, staging / item.name)
        info = json.dumps(
            {
                "name": described.name,
                "version": described.version,
                "family": family_name,
                "precision": "fp16" if fp16 or described.precision == "fp16" else "fp32",
                "engine": "tensorrt",
                "stand_in": described.stand_in,
                "sha256": plans,
                "weights_digest": digest_of_files({plan: staging / plan for plan in plans}),
                "tensorrt_version": tensorrt.__version__,
                "gpu": _gpu_name(),
                "max_batch": max_batch,
                "derived_from": {
                    "folder": str(source),
                    "precision": described.precision,
                    "weights_digest": described.weights_digest,
                },
            },
            indent=1,
            sort_keys=True,
        )
        (staging / MODEL_INFO_FILE).write_text(info, encoding="utf-8")
        publish_dir(staging, target)
    return target


PLAN_FILE = "model.plan"


def export_engine_repository(
    plans: dict[str, Path],
    target: Path,
    *,
    digests: dict[str, str],
    parameters: dict[str, dict[str, str]],
    version: int = 1,
) -> Path:
    """Triton models served by the TensorRT backend: for each `name -> .plan file`, the
    production config of `model_repository/<name>/` with `platform: "tensorrt_plan"`
    (instead of the onnxruntime backend, whose TensorRT accelerator option is dropped),
    the parameters and `weights_digest`, and `<version>/model.plan`."""
    from dp_tools import triton_repository as triton

    for name, plan in plans.items():
        config = triton.read_config(triton.DEFAULT_REPOSITORY / name / triton.CONFIG_FILE)
        config.name = name
        config.backend = ""
        config.platform = "tensorrt_plan"
        config.ClearField("optimization")
        values = {**parameters.get(name, {}), triton.PARAM_WEIGHTS_DIGEST: digests[name]}
        for key, value in values.items():
            config.parameters[key].string_value = str(value)
        model_dir = Path(target) / name
        publish_copy(plan, model_dir / str(version) / PLAN_FILE)
        header = f"Written by dp models export (TensorRT engine), sha256 {digests[name]}."
        publish_text(model_dir / triton.CONFIG_FILE, triton.config_text(config, header))
    return Path(target)
