"""Offline model tooling (TFJS -> ONNX, stand-in builders, NanoDet preparation, hub pull and
export, quantization, TensorRT, Triton repositories): writes model folders. Installed with
the `[tools]` extra and absent from the runtime image; it uses the runtime (dp_core,
dp_features, dp_resources), the runtime never uses it (tests/unit/test_layers.py)."""

from __future__ import annotations

import importlib
from pathlib import Path

from dp_resources.models.registry import family


def prepare_model(family_name: str, model_dir: Path | None = None) -> Path:
    """Build the model folder of a family obtained by `prepare` (`dp models prepare NAME`):
    `prepare_<name>` of `dp_tools/<name>.py`; returns the folder."""
    if family(family_name).obtained_by != "prepare":
        raise ValueError(f"{family_name} is not prepared from a package")
    module = importlib.import_module(f"{__name__}.{family_name}")
    return getattr(module, f"prepare_{family_name}")(model_dir)
