"""Stand-in model builders (random weights, the real I/O contract) for the families whose
registry entry names a stand-in (`dp_resources.models.registry.stand_in_families`).

Two sizes: "toy" (`<family>.py`: a few MB, for tests) and "full" (`<family>_full.py`: the
production architecture and size, hundreds of MB, built only for speed measurements such
as benchmarks/gpu_check.py; never committed)."""

from __future__ import annotations

import importlib
from pathlib import Path

from dp_resources.models.registry import family

SIZES = ("toy", "full")


def build_stand_in(family_name: str, model_dir: Path, seed: int = 0, size: str = "toy") -> Path:
    """Write family `family_name`'s stand-in folder of `size` at `model_dir`; returns it."""
    if not family(family_name).stand_in_name:
        raise ValueError(f"{family_name} has no stand-in")
    if size not in SIZES:
        raise ValueError(f"stand-in size {size!r}: one of {', '.join(SIZES)}")
    if size == "toy":
        return importlib.import_module(f"{__name__}.{family_name}").STAND_IN.build(model_dir, seed)
    module = importlib.import_module(f"{__name__}.{family_name}_full")
    return module.FULL_SIZE_STAND_IN.build(model_dir, seed=seed)
