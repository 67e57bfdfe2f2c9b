"""The model resource: where a step's models come from (a model folder root, a Triton
server), as Dagster config (`EnvVar("DP_TRITON_URL")` …) rather than read from the
environment deep inside a loader."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from dp_core.profile import Profile
from dp_resources.models.providers import loader_options
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

    def runtime_options(self, profile: Profile, component: str, family: str) -> dict:
        """Keyword arguments for `component`'s loader of model family `family`
        (`providers.loader_options`)."""
        return loader_options(profile, component, family, self.triton)
