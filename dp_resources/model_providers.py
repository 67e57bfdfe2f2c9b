"""Where a component's model runs, from its profile entry: onnxruntime with providers named
explicitly (OnnxModel refuses a provider that is not there instead of falling back), or a
Triton server (`runtime: triton`) that must serve it on the profile's device."""

from __future__ import annotations

from dp_core.profile import ComponentSpec
from dp_resources.triton_models import TritonSettings

ONNX_PROVIDERS = {"cpu": ("CPUExecutionProvider",), "cuda": ("CUDAExecutionProvider",)}


def onnx_providers(device: str) -> tuple[str, ...]:
    return ONNX_PROVIDERS[device]


def runtime_options(spec: ComponentSpec) -> dict:
    """Keyword arguments for a model loader (`load_clip`, `load_clap`, `load_midas`, ...)."""
    if spec.runtime == "triton":
        return {"triton": TritonSettings.from_env(spec.device)}
    return {"providers": onnx_providers(spec.device)}
