"""Profiles: which components run, how, and on what analysis parameters.

A profile is YAML validated on load; a wrong profile is a `CONFIG_INVALID` error that
names the bad field. `config_hash` is the hash of its canonical (validated) form, so
formatting and key order never change it, but every value does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dp_core.components import (
    ACCELERATED_COMPONENTS,
    COMPONENT_DEPENDENCIES,
    KNOWN_COMPONENTS,
    TRITON_COMPONENTS,
)
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_json

PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnalysisParams(_Strict):
    """Analysis frames: sampled at `fps`, scaled to fit inside width×height (aspect kept)."""

    fps: float = Field(2.0, gt=0, le=60)
    width: int = Field(640, ge=32, le=4096)
    height: int = Field(640, ge=32, le=4096)


class DenseParams(_Strict):
    """The dense low-res stream for cut and motion work: up to `max_fps`, `width` px wide."""

    max_fps: float = Field(25.0, gt=0, le=120)
    width: int = Field(160, ge=16, le=640)


class AudioParams(_Strict):
    model_sample_rate: int = Field(16000, ge=8000, le=48000)
    chunk_seconds: float = Field(60.0, gt=0, le=600)


class Limits(_Strict):
    """Inputs beyond these are RESOURCE_EXHAUSTED / INPUT_UNSUPPORTED, never an OOM kill."""

    max_pixels: int = Field(7680 * 4320, ge=1)
    max_duration_s: float = Field(6 * 3600, gt=0)
    frames_per_chunk: int = Field(256, ge=1, le=4096)


class FrameBudget(_Strict):
    """Which analysis frames a component sees: at most `max_frames`, at most `fps`."""

    max_frames: int | None = Field(None, ge=1)
    fps: float | None = Field(None, gt=0)


class ComponentSpec(_Strict):
    required: bool = True
    version: str = "1"
    runtime: Literal["cpu", "onnxruntime", "triton", "inprocess"] = "cpu"
    device: Literal["cpu", "cuda"] = Field(
        "cpu", description="cuda where none is available is an error, never a CPU run"
    )
    model: str | None = None
    batch_size: int = Field(32, ge=1, le=4096)
    retries: int = Field(2, ge=0, le=10, description="extra attempts on a transient error")
    retry_backoff_s: float = Field(1.0, ge=0, le=300, description="first wait; doubles")
    frame_budget: FrameBudget | None = None
    params: dict[str, object] = Field(default_factory=dict)


class Batching(_Strict):
    videos_per_run: int = Field(8, ge=1, le=1000)


class Profile(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str = ""
    analysis: AnalysisParams = AnalysisParams()
    dense: DenseParams = DenseParams()
    audio: AudioParams = AudioParams()
    limits: Limits = Limits()
    batching: Batching = Batching()
    components: dict[str, ComponentSpec]
    resolved_model_mapping: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _components_known_and_closed(self) -> Profile:
        for name in self.components:
            if name not in COMPONENT_DEPENDENCIES:
                raise ValueError(
                    f"components.{name}: unknown component; known: {', '.join(KNOWN_COMPONENTS)}"
                )
        for name, spec in self.components.items():
            if spec.device == "cuda" and name not in ACCELERATED_COMPONENTS:
                raise ValueError(f"components.{name}.device: cuda is not supported (CPU only)")
            if spec.runtime == "triton" and name not in TRITON_COMPONENTS:
                raise ValueError(f"components.{name}.runtime: triton serves no model for it")
        for name in self.components:
            for dep in COMPONENT_DEPENDENCIES[name]:
                if dep not in self.components:
                    raise ValueError(f"components.{name}: needs {dep!r}, which the profile lacks")
        if "segmenter" not in self.components:
            raise ValueError("components.segmenter: every profile needs the segmenter")
        return self

    @property
    def config_hash(self) -> str:
        return sha256_json(self.model_dump(mode="json"))[:16]

    def component_order(self) -> list[str]:
        """The profile's components in catalogue (dependency-respecting) order."""
        return [name for name in KNOWN_COMPONENTS if name in self.components]


def parse_profile(data: object, source: str = "<profile>") -> Profile:
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise DpError(ErrorCode.CONFIG_INVALID, f"profile {source}: {problems}") from None


def load_profile(name_or_path: str) -> Profile:
    """Load a profile by name (from profiles/) or by a path to a YAML file."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") or path.exists()):
        path = PROFILES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"profile {name_or_path!r} not found (available: {', '.join(available)})",
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DpError(
            ErrorCode.CONFIG_INVALID, f"profile {path.name}: not valid YAML: {exc}"
        ) from exc
    return parse_profile(data, source=path.name)
