"""Stand-in model builders (random weights, the real I/O contract) for the families whose
registry entry names a stand-in (`dp_resources.models.registry.stand_in_families`)."""

from __future__ import annotations

import importlib
from pathlib import Path

from dp_resources.models.registry import family


def build_stand_in(family_name: str, model_dir: Path, seed: int = 0) -> Path:
    """Write family `family_name`'s stand-in folder at `model_dir`; returns it."""
    if not family(family_name).stand_in_name:
        raise ValueError(f"{family_name} has no stand-in")
    module = importlib.import_module(f"{__name__}.{family_name}")
    return module.STAND_IN.build(model_dir, seed=seed)
