"""A model family's towers served by Triton instead of a local folder (profile runtime
`triton`): the same towers, signatures and tokenizer as `load_model_folder`, the same
model classes on top, no local fallback.

Triton names a tower `<family>_<part>` (`clip_image`, `clap_text`) or `<family>` for a
single-file family (`midas`), as in `model_repository/` (`ModelFamily.triton_name`). Whether the served model is a
stand-in comes from its config (`parameters.stand_in`); a real model's tokenizer is read
from the local model folder (tokenizing happens in the client).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dp_core.errors import DpError, ErrorCode
from dp_resources.models.registry import ModelFamily, model_folder
from dp_resources.models.towers import ModelFolder, check_signature, load_model_folder
from dp_resources.models.triton_runtime import TritonModel


@dataclass(frozen=True)
class TritonSettings:
    """Where the models are served and what the profile requires of them."""

    url: str = "127.0.0.1:8001"
    protocol: str = "grpc"
    timeout_s: float = 20.0  # per request: a hung server ends a run within a minute (PRODUCTION.md)
    device: str = "cuda"  # the device the profile asks for: the server must serve on it

    @classmethod
    def from_env(cls, device: str) -> TritonSettings:
        """`DP_TRITON_URL` (host:port), `DP_TRITON_PROTOCOL` (grpc|http),
        `DP_TRITON_TIMEOUT_S`."""
        return cls(
            url=os.environ.get("DP_TRITON_URL", cls.url),
            protocol=os.environ.get("DP_TRITON_PROTOCOL", cls.protocol),
            timeout_s=float(os.environ.get("DP_TRITON_TIMEOUT_S", cls.timeout_s)),
            device=device,
        )


def load_towers(
    family: ModelFamily,
    model_dir: Path | None,
    providers: tuple[str, ...],
    intra_op_threads: int,
    triton: TritonSettings | None,
) -> ModelFolder:
    """The family's towers on Triton when `triton` is given, else from the local folder."""
    if triton is not None:
        return load_triton_towers(family, triton, model_dir)
    return load_model_folder(model_dir, family, providers, intra_op_threads)


def load_triton_towers(
    family: ModelFamily, settings: TritonSettings, model_dir: Path | None = None
) -> ModelFolder:
    """The family's towers on the Triton server at `settings.url`; MODEL_UNAVAILABLE /
    MODEL_NOT_FOUND from `TritonModel` when the server or a model is not there, and
    DEPENDENCY_MISSING when the server runs a tower on another device than the profile's."""
    towers = {}
    for tower in family.towers:
        model = open_triton_model(settings, family.triton_name(tower), family.label)
        check_signature(model, tower, f"Triton at {settings.url}", family)
        towers[tower.part] = model
    stand_in = {t.model_used.stand_in for t in towers.values()}
    if len(stand_in) != 1:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"Triton at {settings.url} serves a mix of stand-in and real {family.label} towers",
        )
    is_stand_in = stand_in.pop()
    tokenizer_file = None
    if family.tokenizer_file is not None and not is_stand_in:
        folder = model_folder(family.name, model_dir)
        tokenizer_file = folder / family.tokenizer_file
        if not tokenizer_file.is_file():
            raise DpError(
                ErrorCode.MODEL_NOT_FOUND,
                f"{family.label} on Triton needs its tokenizer locally: no "
                f"{family.tokenizer_file} in {folder}; {family.how_to_get}",
            )
    return ModelFolder(towers, is_stand_in, tokenizer_file)


def open_triton_model(settings: TritonSettings, model_name: str, label: str) -> TritonModel:
    """`model_name` on the server, refused (DEPENDENCY_MISSING) when the server runs it on
    another device than the profile asks for."""
    model = TritonModel(
        settings.url, model_name, protocol=settings.protocol, timeout_s=settings.timeout_s
    )
    served_on = model.model_used.device.split(":")[0]
    if served_on != settings.device:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"the profile asks for {label} on {settings.device}, but Triton at {settings.url} "
            f"serves {model_name} on {served_on}; refusing to run it there (set the "
            "component's device, or deploy the model on that device)",
        )
    return model
