"""The profile resource: which profile a run uses (a name from profiles/ or a YAML path),
validated against the component catalogue."""

from dagster import ConfigurableResource

from dp_assets.components import load_profile
from dp_core.profile import Profile


class ProfileResource(ConfigurableResource):
    profile: str = "cpu_baseline"

    def load(self) -> Profile:
        return load_profile(self.profile)
