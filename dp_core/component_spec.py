"""What a component IS, declared once beside its algorithm: `ComponentSpec`.

Everything else about a component is generated from its spec when `Definitions` is built
(dp_assets/factory.py): its asset and status check, its Celery queue tag, its pool, the
profile validation of its entry (devices, runtimes, typed params), the segmenter's frame
budgets, the feature-table columns and the `dp models` choices. A spec holds no Dagster
object: `step` is opaque here and interpreted by the asset factory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

Queue = Literal["cpu", "gpu"]
# The segmenter's streams (dp_resources/media/segmentation.py): `analysis` frames at the
# profile's analysis fps (each reader gets its own frame budget), the `dense` low-res
# stream, 16 kHz mono `audio_model`, and the original `audio_native`.
Stream = Literal["analysis", "dense", "audio_model", "audio_native"]
Arrays = Mapping[str, np.ndarray]


class Params(BaseModel):
    """Base of every component's typed params: a field the model does not declare (a typo
    in a profile) is refused when the profile loads, naming the field."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    """A component without params."""


@dataclass(frozen=True)
class FeatureSet:
    """A component's contribution to the fixed-length feature row: `aggregate(arrays)`
    gives {column: value} for the `columns` it declares ({column: description, units})."""

    aggregate: Callable[[Arrays], dict[str, float]]
    columns: Mapping[str, str]


@dataclass(frozen=True)
class ComponentSpec:
    """One asset-graph component.

    - `inputs`: upstream components it needs (each must be in any profile that has it);
      `optional_inputs`: ones it reads when the profile has them (it runs after them).
    - `queue`: the Celery queue of its step (`gpu`: workers with the accelerator/Triton).
    - `devices` / `runtimes`: what a profile may ask of it (`cuda` elsewhere is refused).
    - `streams`: the segmenter streams it reads (`analysis` readers get a frame budget).
    - `params`: the pydantic model of its profile `params`.
    - `arrays`: headline arrays an `ok` artifact always holds (SPEC), checked on write.
    - `version`: the component's code version (artifact meta, Dagster code_version).
    - `model_family`: the model family it loads (dp_resources/models/registry.py), if any.
    - `features`: its feature-table columns; `preview`: an optional picture of an `ok`
      result, `(dp_assets.step_api.PreviewSource) -> PNG/JPEG bytes | None`, shown in the
      UI's partition metadata and in `dp report` (it must never fail a step).
    - `step`: how a step computes (a `dp_assets.step_kinds` object).
    - `parallel_videos`: its per-video body may run for several videos of a step at once
      in threads (no shared mutable state; its work releases the GIL: NumPy, OpenCV,
      PyAV, onnxruntime); up to the profile's `batching.video_threads`.
    """

    name: str
    group: str
    description: str
    step: Any
    inputs: tuple[str, ...] = ()
    optional_inputs: tuple[str, ...] = ()
    queue: Queue = "cpu"
    devices: frozenset[str] = frozenset({"cpu"})
    runtimes: frozenset[str] = frozenset({"cpu"})
    streams: tuple[Stream, ...] = ()
    params: type[Params] = NoParams
    arrays: tuple[str, ...] = ()
    version: str = "1"
    model_family: str | None = None
    features: FeatureSet | None = None
    preview: Callable[..., Any] | None = None
    kinds: frozenset[str] = field(default_factory=frozenset)
    parallel_videos: bool = False

    @property
    def reads_analysis_frames(self) -> bool:
        return "analysis" in self.streams
