"""Where a component's model runs, from its profile entry: onnxruntime with providers named
explicitly (OnnxModel refuses a provider that is not there instead of falling back), or a
Triton server (`runtime: triton`) that must serve it on the profile's device."""

from __future__ import annotations

from dp_core.profile import Profile
from dp_resources.models.registry import component_model_dir
from dp_resources.models.triton_towers import TritonSettings

ONNX_PROVIDERS = {"cpu": ("CPUExecutionProvider",), "cuda": ("CUDAExecutionProvider",)}


def onnx_providers(device: str) -> tuple[str, ...]:
    return ONNX_PROVIDERS[device]


def runtime_options(profile: Profile, component: str) -> dict:
    """Keyword arguments for `component`'s model loader (`load_clip`, `load_clap`, ...):
    the runtime and device of its profile entry, and the model folder the profile names."""
    spec = profile.components[component]
    options: dict = {"model_dir": component_model_dir(component, profile)}
    if spec.runtime == "triton":
        return {**options, "triton": TritonSettings.from_env(spec.device)}
    return {**options, "providers": onnx_providers(spec.device)}
