"""Profiles: which components run, how, and on what analysis parameters.

A profile is YAML validated on load; a wrong profile is a `CONFIG_INVALID` error that
names the bad field. `config_hash` is the hash of its canonical (validated) form, so
formatting and key order never change it, but every value does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dp_core.component_spec import ComponentSpec
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


class ComponentSettings(_Strict):
    """A profile's entry for one component: how it runs here. What the component is (its
    inputs, supported devices, params model, version) is its `ComponentSpec`."""

    required: bool = True
    runtime: Literal["cpu", "onnxruntime", "triton", "inprocess"] = "cpu"
    device: Literal["cpu", "cuda"] = Field(
        "cpu", description="cuda where none is available is an error, never a CPU run"
    )
    model: str | None = None
    batch_size: int = Field(32, ge=1, le=4096)
    retries: int = Field(2, ge=0, le=10, description="extra attempts on a transient error")
    retry_backoff_s: float = Field(1.0, ge=0, le=300, description="first wait; doubles")
    frame_budget: FrameBudget | None = None
    params: dict[str, object] = Field(
        default_factory=dict, description="checked against the component's params model"
    )


class Batching(_Strict):
    videos_per_run: int = Field(8, ge=1, le=1000)
    # videos of one step computed at once, by components whose spec says they may be
    # (`ComponentSpec.parallel_videos`): the in-process executor runs one step at a time
    video_threads: int = Field(2, ge=1, le=64)
    # independent steps of a run at once (the multiprocess executor, dp_assets/execution.py);
    # None: as many as the machine has cores
    steps_at_once: int | None = Field(None, ge=1, le=64)


class DatasetSettings(_Strict):
    """The popularity task (dp_features/dataset): targets at age `horizon_hours` after
    publish, predicted at age `prediction_hours` (< horizon) from what is known then.
    Not part of `config_hash`: changing the task never makes a video's artifacts stale."""

    horizon_hours: float = Field(168.0, gt=0, description="target age H after publish")
    prediction_hours: float = Field(24.0, ge=0, description="prediction time T (< H)")
    horizon_tolerance_hours: float = Field(
        48.0, gt=0, description="the snapshots a target is read from lie within this of H"
    )
    test_fraction: float = Field(0.2, gt=0, lt=1, description="share of channels in test")
    validation_fraction: float = Field(0.2, gt=0, lt=1, description="of train: early stopping")
    min_train_rows: int = Field(50, ge=1, description="fewer is a refusal")
    min_test_rows: int = Field(20, ge=1, description="fewer is a refusal")
    include_stand_in: bool = Field(False, description="keep features of stand-in models")
    bootstrap_samples: int = Field(300, ge=10, le=10000, description="channel resamples")
    embedding_pca_components: int = Field(
        0, ge=0, le=32, description="PCA features per embedding (real models only); 0: off"
    )

    @model_validator(mode="after")
    def _prediction_before_horizon(self) -> DatasetSettings:
        if self.prediction_hours >= self.horizon_hours:
            raise ValueError(
                f"dataset.prediction_hours ({self.prediction_hours}) must be below "
                f"dataset.horizon_hours ({self.horizon_hours})"
            )
        return self


class Profile(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str = ""
    analysis: AnalysisParams = AnalysisParams()
    dense: DenseParams = DenseParams()
    audio: AudioParams = AudioParams()
    limits: Limits = Limits()
    batching: Batching = Batching()
    components: dict[str, ComponentSettings]
    resolved_model_mapping: dict[str, str] = Field(default_factory=dict)
    dataset: DatasetSettings = DatasetSettings()

    @property
    def config_hash(self) -> str:
        return sha256_json(self.model_dump(mode="json", exclude={"dataset"}))[:16]

    def component_order(self) -> list[str]:
        """The profile's components in catalogue (dependency-respecting) order: the order
        its YAML lists them in is checked against the catalogue when it loads."""
        return list(self.components)


def check_against_catalog(profile: Profile, catalog: Mapping[str, ComponentSpec]) -> Profile:
    """The profile's components exist, their inputs are in the profile, the devices and
    runtimes they ask for are ones the component supports, and their params validate
    against its params model. Returns the profile with components in catalogue order."""
    problems = []
    for name, settings in profile.components.items():
        spec = catalog.get(name)
        if spec is None:
            problems.append(f"components.{name}: unknown component; known: {', '.join(catalog)}")
            continue
        if settings.device not in spec.devices:
            problems.append(
                f"components.{name}.device: {settings.device} is not supported "
                f"(supported: {', '.join(sorted(spec.devices))})"
            )
        if settings.runtime not in spec.runtimes:
            problems.append(
                f"components.{name}.runtime: {settings.runtime} is not supported "
                f"(supported: {', '.join(sorted(spec.runtimes))})"
            )
        for dep in spec.inputs:
            if dep not in profile.components:
                problems.append(f"components.{name}: needs {dep!r}, which the profile lacks")
        try:
            spec.params.model_validate(settings.params)
        except ValidationError as exc:
            problems.extend(
                f"components.{name}.params.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in exc.errors()
            )
    if "segmenter" not in profile.components:
        problems.append("components.segmenter: every profile needs the segmenter")
    if problems:
        raise ValueError("; ".join(problems))
    ordered = {name: profile.components[name] for name in catalog if name in profile.components}
    return profile.model_copy(update={"components": ordered})


def parse_profile(
    data: object, catalog: Mapping[str, ComponentSpec], source: str = "<profile>"
) -> Profile:
    """A validated profile; CONFIG_INVALID naming every bad field otherwise."""
    try:
        return check_against_catalog(Profile.model_validate(data), catalog)
    except ValueError as exc:
        if not isinstance(exc, ValidationError):
            raise DpError(ErrorCode.CONFIG_INVALID, f"profile {source}: {exc}") from None
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise DpError(ErrorCode.CONFIG_INVALID, f"profile {source}: {problems}") from None


def load_profile(name_or_path: str, catalog: Mapping[str, ComponentSpec]) -> Profile:
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
    return parse_profile(data, catalog, source=path.name)
