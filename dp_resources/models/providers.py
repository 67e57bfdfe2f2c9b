"""Where a component's model runs, from its profile entry: onnxruntime with providers named
explicitly (OnnxModel refuses a provider that is not there instead of falling back), or a
Triton server (`runtime: triton`) that must serve it on the profile's device."""

from __future__ import annotations

from collections.abc import Callable

from dp_core.profile import Profile
from dp_resources.models.registry import component_model_dir
from dp_resources.models.triton_towers import TritonSettings

ONNX_PROVIDERS = {"cpu": ("CPUExecutionProvider",), "cuda": ("CUDAExecutionProvider",)}


def onnx_providers(device: str) -> tuple[str, ...]:
    return ONNX_PROVIDERS[device]


def loader_options(
    profile: Profile, component: str, family: str, triton: Callable[[str], TritonSettings]
) -> dict:
    """Keyword arguments for `component`'s model loader (`load_clip`, `load_clap`, ...):
    the runtime and device of its profile entry, and the folder of model family `family`
    the profile names (`triton(device)`: the server settings, for `runtime: triton`)."""
    settings = profile.components[component]
    options: dict = {"model_dir": component_model_dir(component, profile, family)}
    if settings.runtime == "triton":
        return {**options, "triton": triton(settings.device)}
    return {**options, "providers": onnx_providers(settings.device)}


def runtime_options(profile: Profile, component: str, family: str) -> dict:
    """`loader_options` with the Triton server from the environment (`DP_TRITON_URL`, ...)."""
    return loader_options(profile, component, family, TritonSettings.from_env)
