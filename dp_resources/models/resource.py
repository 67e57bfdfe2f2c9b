"""The model resource: where a step's models come from (a model folder root, a Triton
server), as Dagster config (`EnvVar("DP_TRITON_URL")` …) rather than read from the
environment deep inside a loader."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from dp_core.profile import Profile
from dp_resources.models.providers import onnx_providers
from dp_resources.models.registry import component_model_dir
from dp_resources.models.triton_towers import TritonSettings


class ModelResource(ConfigurableResource):
    """`triton_url`/`triton_protocol`/`triton_timeout_s`: the Triton server of components
    whose profile entry says `runtime: triton` (DP_TRITON_URL, DP_TRITON_PROTOCOL,
    DP_TRITON_TIMEOUT_S)."""

    triton_url: str = Field(TritonSettings.url, description="host:port of Triton")
    triton_protocol: str = Field(TritonSettings.protocol, pattern="^(grpc|http)$")
    triton_timeout_s: float = Field(TritonSettings.timeout_s, gt=0)

    def triton(self, device: str) -> TritonSettings:
        return TritonSettings(
            url=self.triton_url,
            protocol=self.triton_protocol,
            timeout_s=self.triton_timeout_s,
            device=device,
        )

    def runtime_options(self, profile: Profile, component: str) -> dict:
        """Keyword arguments for `component`'s model loader (`load_clip`, `load_clap`, ...):
        the runtime and device of its profile entry, and the model folder the profile names."""
        settings = profile.components[component]
        options: dict = {"model_dir": component_model_dir(component, profile)}
        if settings.runtime == "triton":
            return {**options, "triton": self.triton(settings.device)}
        return {**options, "providers": onnx_providers(settings.device)}
