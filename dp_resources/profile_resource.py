"""The profile resource: which profile a run uses (a name from profiles/ or a YAML path)."""

from dagster import ConfigurableResource

from dp_core.profile import Profile, load_profile


class ProfileResource(ConfigurableResource):
    profile: str = "cpu_baseline"

    def load(self) -> Profile:
        return load_profile(self.profile)
