"""The profile resource: which profile a run uses (a name from profiles/ or a YAML path),
validated against the component catalogue once, when the Definitions were built, and passed
to every step as that document: a step never re-reads the YAML (a file edited while a run is
in flight cannot give one run two profiles)."""

from __future__ import annotations

from dagster import ConfigurableResource

from dp_assets.components import load_profile
from dp_core.profile import Profile


class ProfileResource(ConfigurableResource):
    profile: str = "cpu_baseline"  # the name or path it was loaded from (the UI shows it)
    document: str = ""  # the validated profile as JSON ("" : load `profile`)

    @classmethod
    def of(cls, name: str, profile: Profile) -> ProfileResource:
        return cls(profile=name, document=profile.model_dump_json())

    def load(self) -> Profile:
        if self.document:
            return Profile.model_validate_json(self.document)
        return load_profile(self.profile)
