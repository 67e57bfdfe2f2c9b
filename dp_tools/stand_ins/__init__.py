"""Stand-in model builders (random weights, the real I/O contract) for the families whose
declaration names a stand-in (`dp_resources.models.registry.stand_in_families`).

Two sizes: "toy" (`<family>.py`: a few MB, for tests) and "full" (`<family>_full.py`: the
production architecture and size, hundreds of MB, built only for speed measurements such
as benchmarks/gpu_check.py; never committed). `STAND_INS` holds them by size, then by
family name (each `StandIn` names its family)."""

from __future__ import annotations

from pathlib import Path

from dp_resources.models.registry import family
from dp_tools.stand_ins import clap, clap_full, clip, clip_full, midas, midas_full
from dp_tools.stand_ins.common import StandIn

STAND_INS: dict[str, dict[str, StandIn]] = {
    "toy": {s.family.name: s for s in (clap.STAND_IN, clip.STAND_IN, midas.STAND_IN)},
    "full": {
        s.family.name: s
        for s in (
            clap_full.FULL_SIZE_STAND_IN,
            clip_full.FULL_SIZE_STAND_IN,
            midas_full.FULL_SIZE_STAND_IN,
        )
    },
}
SIZES = tuple(STAND_INS)


def build_stand_in(family_name: str, model_dir: Path, seed: int = 0, size: str = "toy") -> Path:
    """Write family `family_name`'s stand-in folder of `size` at `model_dir`; returns it."""
    if not family(family_name).stand_in_name:
        raise ValueError(f"{family_name} has no stand-in")
    if size not in SIZES:
        raise ValueError(f"stand-in size {size!r}: one of {', '.join(SIZES)}")
    return STAND_INS[size][family_name].build(model_dir, seed=seed)
