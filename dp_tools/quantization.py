"""int8 (dynamic) and fp16 copies of an ONNX model folder, with digests and precision.

- int8: `onnxruntime.quantization.quantize_dynamic` — weights of MatMul/Gemm/Conv/Gather
  stored as signed int8 (per tensor), activations quantized at run time; inputs and outputs
  stay float32. Best on CPU (ORT's integer kernels), where it roughly quarters the weights.
- fp16: `onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types=True)` —
  every float tensor becomes float16 inside the graph, with Casts at the inputs and outputs,
  so the I/O signature stays float32 and callers do not change. Meant for GPUs (CUDA,
  TensorRT); ORT's CPU provider runs it too, more slowly.

The new folder holds the converted ONNX files, copies of the other files (tokenizer, labels,
the stand-in marker), and a `model.json` saying `precision`, each file's sha256,
`weights_digest` and what it was derived from. A stand-in stays a stand-in: its marker is
rewritten with the new files' digests (the loaders check them) and the precision.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Literal

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import digest_of_files, sha256_file
from dp_resources.models.registry import (
    MODEL_INFO_FILE,
    STAND_IN_MARKER,
    describe_folder,
    family,
    read_json_object,
)
from dp_resources.storage.atomic_files import publish_dir, staging_dir

QuantizationMode = Literal["int8", "fp16"]
MODES: tuple[str, ...] = ("int8", "fp16")


def quantize_onnx_file(source: Path, target: Path, mode: QuantizationMode) -> None:
    """Write the `mode` copy of one float32 ONNX file."""
    import onnx

    if mode == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # 7-bit weights: x86 CPUs without VNNI multiply u8 x s8 pairs into saturating int16
        # sums; full-range weights overflow there (cosine 0.92 vs fp32 measured on AVX2)
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, reduce_range=True)
    elif mode == "fp16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        model = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
        onnx.save_model(model, str(target))
    else:
        raise DpError(ErrorCode.CONFIG_INVALID, f"quantization mode {mode!r}: one of {MODES}")


def quantize_model_folder(
    source: Path, target: Path, mode: QuantizationMode, family_name: str
) -> Path:
    """Write the `mode` copy of the `family_name` model folder `source` at `target`
    (replaced if it exists); returns `target`. The source must be an fp32 ONNX folder."""
    if mode not in MODES:
        raise DpError(ErrorCode.CONFIG_INVALID, f"quantization mode {mode!r}: one of {MODES}")
    model_family = family(family_name)
    source, target = Path(source), Path(target)
    described = describe_folder(source, family_name)
    if not described.present:
        raise DpError(ErrorCode.MODEL_NOT_FOUND, f"cannot quantize: {described.problem}")
    if described.engine != "onnxruntime" or described.precision != "fp32":
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"{source} is {described.engine} {described.precision}: quantize the fp32 ONNX "
            "folder it came from",
        )
    if target.resolve() == source.resolve():
        raise DpError(ErrorCode.CONFIG_INVALID, f"the quantized copy cannot replace {source}")
    with staging_dir(target) as staging:
        for item in source.iterdir():
            if item.name in model_family.files or item.name == MODEL_INFO_FILE:
                continue
            if item.is_file():
                shutil.copy2(item, staging / item.name)
        for file in model_family.files:
            try:
                quantize_onnx_file(source / file, staging / file, mode)
            except DpError:
                raise
            except Exception as exc:  # the converters raise their own untyped errors
                raise DpError(
                    ErrorCode.MODEL_BAD_OUTPUT,
                    f"{mode} conversion of {source / file} failed: {exc}",
                ) from exc
        digests = {f: sha256_file(staging / f) for f in model_family.files}
        marker = read_json_object(staging / STAND_IN_MARKER)
        if marker is not None:
            # The loaders check the marker's digests against the files: point them at the
            # quantized files, so the copy loads and is still reported as a stand-in.
            marker.update(
                sha256={**marker.get("sha256", {}), **digests},
                precision=mode,
                derived_from={"precision": "fp32", "weights_digest": described.weights_digest},
            )
            _write_json(staging / STAND_IN_MARKER, marker)
        _write_json(
            staging / MODEL_INFO_FILE,
            {
                "name": described.name,
                "version": described.version,
                "family": family_name,
                "precision": mode,
                "engine": "onnxruntime",
                "stand_in": described.stand_in,
                "sha256": digests,
                "weights_digest": digest_of_files({f: staging / f for f in model_family.files}),
                "derived_from": {
                    "folder": str(source),
                    "precision": "fp32",
                    "weights_digest": described.weights_digest,
                    "tool": _tool(mode),
                },
            },
        )
        publish_dir(staging, target)
    return target


def _tool(mode: str) -> str:
    import onnxruntime

    how = "quantize_dynamic QInt8 reduce_range" if mode == "int8" else "float16 keep_io_types"
    return f"onnxruntime {onnxruntime.__version__} {how}"


def _write_json(path: Path, value: dict) -> None:
    """Into the staging folder, which appears as a whole (`publish_dir`)."""
    path.write_text(json.dumps(value, indent=1, sort_keys=True), encoding="utf-8")
