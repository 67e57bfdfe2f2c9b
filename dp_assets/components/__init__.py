"""The component catalogue: every module of this package declares one `SPEC`.

Adding a component is adding a module here (its spec and step body, beside its algorithm
in dp_features) and an entry in the profiles: the catalogue finds it, and everything else
(assets, checks, queues, frame budgets, feature columns, `dp models` choices, profile
validation) is generated from the specs.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import cache

from dp_core.component_spec import ComponentSpec, FeatureSet
from dp_core.errors import DpError, ErrorCode
from dp_core.profile import Profile
from dp_core.profile import load_profile as _load_profile
from dp_core.profile import parse_profile as _parse_profile

# Display and tie-break order of groups; inside a group, names sort alphabetically.
GROUP_ORDER = ("segmenter", "visual", "audio", "text")


@cache
def catalog() -> Mapping[str, ComponentSpec]:
    """name -> spec for every component, in dependency-respecting display order."""
    specs: dict[str, ComponentSpec] = {}
    for module in pkgutil.iter_modules(__path__):
        spec = getattr(importlib.import_module(f"{__name__}.{module.name}"), "SPEC", None)
        if spec is None:
            continue
        if spec.name in specs:
            raise DpError(ErrorCode.INTERNAL, f"two components are called {spec.name}")
        specs[spec.name] = spec
    return {spec.name: spec for spec in _dependency_order(specs)}


def _dependency_order(specs: Mapping[str, ComponentSpec]) -> list[ComponentSpec]:
    """Every spec after its inputs (required and optional); ties by group, then name."""

    def rank(spec: ComponentSpec) -> tuple:
        group = GROUP_ORDER.index(spec.group) if spec.group in GROUP_ORDER else len(GROUP_ORDER)
        return (group, spec.name)

    ordered: list[ComponentSpec] = []
    placed: set[str] = set()
    pending = sorted(specs.values(), key=rank)
    while pending:
        ready = [s for s in pending if all(d in placed for d in (*s.inputs, *s.optional_inputs))]
        if not ready:
            unknown = {
                d for s in pending for d in (*s.inputs, *s.optional_inputs) if d not in specs
            }
            problem = f"unknown inputs {sorted(unknown)}" if unknown else "an input cycle"
            names = ", ".join(s.name for s in pending)
            raise DpError(ErrorCode.INTERNAL, f"component specs {names}: {problem}")
        ordered.append(ready[0])
        placed.add(ready[0].name)
        pending.remove(ready[0])
    return ordered


def load_profile(name_or_path: str) -> Profile:
    """A profile by name (profiles/) or YAML path, validated against the catalogue."""
    return _load_profile(name_or_path, catalog())


def parse_profile(data: object, source: str = "<profile>") -> Profile:
    """A profile from its YAML data, validated against the catalogue."""
    return _parse_profile(data, catalog(), source)


def analysis_readers(profile: Profile) -> list[str]:
    """The profile's components that read analysis frames (each gets a frame budget)."""
    specs = catalog()
    return [name for name in profile.components if specs[name].reads_analysis_frames]


def feature_sets() -> dict[str, FeatureSet | None]:
    """component -> its feature-table columns, in catalogue order (the table's order)."""
    return {name: spec.features for name, spec in catalog().items()}


def model_families() -> dict[str, str]:
    """component -> the model family it loads, for the components that run one."""
    return {name: s.model_family for name, s in catalog().items() if s.model_family}
