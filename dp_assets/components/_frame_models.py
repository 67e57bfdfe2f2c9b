"""The step body of a model over budgeted analysis frames, batched across the step's
videos (CLIP, MiDaS, NanoDet): frames in, per-video outputs back to dp_features."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from dp_assets.components._shared import analysis_meta, no_video
from dp_assets.step_api import (
    Batched,
    ComponentOutput,
    FrameJob,
    LoadOnce,
    StepContext,
    VideoInput,
)
from dp_resources.models.batching import VideoOutputs


def budget_slices(video: VideoInput, step: StepContext) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The component's budgeted frames in slices of its batch size: preprocessed model
    inputs (float32, several times the frames' bytes) then exist one batch at a time."""
    size = step.settings.batch_size
    for chunk in video.frames.budget_frames(step.name):
        for start in range(0, len(chunk.frames), size):
            yield chunk.frames[start : start + size], chunk.times_s[start : start + size]


def batched_frame_model(
    step: StepContext,
    model: LoadOnce,
    preprocess: Callable[[np.ndarray], tuple[np.ndarray, object]],
    infer: Callable[[object, np.ndarray], Sequence],
    summarise: Callable[[object, VideoOutputs, list], dict],
) -> Batched:
    """`preprocess(frames)` gives model inputs of one shape (+ what the video needs to read
    its outputs back), `infer(model, inputs)` runs a batch, `summarise(model, outputs,
    geometry)` gives the video's ComponentOutput fields (models_used and device default to
    the model's)."""

    def prepare(video: VideoInput) -> ComponentOutput | FrameJob:
        if not video.frames.metadata["has_video"]:
            return no_video()
        geometry: list = []

        def chunks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for frames, times_s in budget_slices(video, step):
                inputs, shape = preprocess(frames)
                geometry.append(shape)
                yield inputs, times_s

        def finish(result: VideoOutputs) -> ComponentOutput:
            loaded = model.get()
            fields = summarise(loaded, result, geometry)
            fields.setdefault("models_used", loaded.models_used)
            return ComponentOutput(
                device=fields["models_used"][0].device,
                meta=analysis_meta(video.upstream["segmenter"]),
                **fields,
            )

        return FrameJob(chunks(), finish)

    return Batched(prepare, lambda inputs: infer(model.get(), inputs))
