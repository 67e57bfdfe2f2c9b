"""What a component's step body sees and returns; no Dagster here.

A spec's `step` is called once per step (a batch of videos) with a `StepContext` and
returns how each video is computed: a function `VideoInput -> ComponentOutput`, or
`Batched(prepare, infer)` for a model run over frames batched across the step's videos.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from dp_assets.uploads import UploadRecord
from dp_core.artifact import Artifact, ArtifactStatus, ModelUsed
from dp_core.component_spec import ComponentSpec, Params
from dp_core.profile import ComponentSettings, Profile
from dp_resources.media.segmented_video import SegmentedVideo
from dp_resources.models.batching import FrameChunk, InferBatch, VideoOutputs
from dp_resources.storage.backends import Storage


@dataclass(frozen=True)
class StepContext:
    """One step of one component: its spec, its profile entry and typed params, the run,
    the storage, and the model resource (loads the spec's model family as configured)."""

    spec: ComponentSpec
    profile: Profile
    run_id: str
    storage: Storage
    models: Any  # dp_resources.models.resource.ModelResource
    log: logging.Logger | Any
    fingerprint: str = ""  # dp_assets/freshness.py: recorded with every artifact

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def settings(self) -> ComponentSettings:
        return self.profile.components[self.spec.name]

    @cached_property
    def params(self) -> Params:
        return self.spec.params.model_validate(self.settings.params)

    def model_options(self, component: str | None = None) -> dict:
        """Loader keyword arguments (model folder, providers or Triton) for the model family
        of `component` (default: this one) as the profile runs it."""
        from dp_assets.components import catalog

        name = component or self.spec.name
        family = catalog()[name].model_family if component else self.spec.model_family
        return self.models.runtime_options(self.profile, name, family)


@dataclass
class VideoInput:
    partition_key: str
    upload: UploadRecord
    upstream: dict[str, Artifact]  # required inputs: component name -> this video's artifact
    storage: Storage | None = None
    optional: dict[str, Artifact] = field(default_factory=dict)  # optional inputs it has

    @cached_property
    def frames(self) -> SegmentedVideo:
        """The segmenter's frames_dir of this video (components that read the segmenter)."""
        return SegmentedVideo.from_artifact(self.storage, self.upstream["segmenter"])

    def usable(self, component: str) -> Artifact | None:
        """An optional input's artifact when it is `ok`; None when absent, empty or failed."""
        artifact = self.optional.get(component)
        return artifact if artifact is not None and artifact.meta.status == "ok" else None


@dataclass
class ComponentOutput:
    status: ArtifactStatus  # "ok" or "empty" (an error is raised, never returned)
    arrays: dict = field(default_factory=dict)
    models_used: list[ModelUsed] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # extra meta stored in the artifact
    display: dict = field(default_factory=dict)  # Dagster UI metadata only
    device: str = "cpu"


class LoadOnce:
    """A model (or any resource) loaded on first use and shared by the step's videos; a
    load that failed fails every video with the same error (e.g. MODEL_NOT_FOUND)."""

    def __init__(self, load: Callable[[], object]):
        self._load, self._value, self._error = load, None, None

    def get(self):
        if self._value is None and self._error is None:
            try:
                self._value = self._load()
            except Exception as exc:
                self._error = exc
        if self._error is not None:
            raise self._error
        return self._value


@dataclass
class FrameJob:
    """A video's share of a batched model step: the frames it sends through the model, and
    how its outputs become the artifact."""

    chunks: Iterator[FrameChunk]
    finish: Callable[[VideoOutputs], ComponentOutput]


@dataclass(frozen=True)
class Batched:
    """A model over frames, batched across the step's videos: `prepare(video)` gives the
    video's `FrameJob` (or its final output, e.g. `empty` without video); `infer` runs one
    batch (dp_resources/models/batching.py)."""

    prepare: Callable[[VideoInput], ComponentOutput | FrameJob]
    infer: InferBatch


@dataclass
class PreviewSource:
    """What a spec's `preview` hook reads, in a step or later from storage (`dp report`):
    the video's `ok` result arrays, its upstream artifacts, and the segmenter's frames."""

    arrays: Mapping[str, Any]
    upstream: Mapping[str, Artifact]
    storage: Storage | None

    @cached_property
    def frames(self) -> SegmentedVideo:
        return SegmentedVideo.from_artifact(self.storage, self.upstream["segmenter"])

    @property
    def duration_s(self) -> float:
        return float(self.frames.metadata["duration_s"])


# A spec's `preview`: PNG or JPEG bytes of a picture of the result, or None for none.
PreviewHook = Callable[[PreviewSource], bytes | None]
PerVideo = Callable[[VideoInput], ComponentOutput]
Upstream = Mapping[str, Mapping[str, Artifact]]
