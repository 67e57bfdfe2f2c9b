"""`shot_quality`: sharpness, exposure, contrast, colourfulness, noise per frame and shot."""

from __future__ import annotations

import numpy as np

from dp_assets.components._shared import analysis_meta, no_video
from dp_assets.step_api import ComponentOutput, PerVideo, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec
from dp_features.visual.shot_quality import (
    FRAME_METRICS,
    SHOT_QUALITY_FEATURES,
    FrameQuality,
    frame_quality,
)
from dp_features.visual.shot_quality import shot_quality as per_shot


def measure_step(step: StepContext) -> PerVideo:
    def measure(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.metadata["has_video"]:
            return no_video()
        parts, times = [], []
        for chunk in frames.budget_frames(step.name):
            parts.append(frame_quality(chunk.frames))
            times.append(chunk.times_s)
        quality = FrameQuality(
            *(np.concatenate([getattr(p, name) for p in parts]) for name in FRAME_METRICS)
        )
        frame_times = np.concatenate(times)
        shots = per_shot(
            frame_times, quality, video.upstream["cut_detection"].arrays["shot_bounds_s"]
        )
        return ComponentOutput(
            status="ok",
            arrays={"frame_times_s": frame_times, **quality.arrays(), **shots.arrays()},
            meta=analysis_meta(video.upstream["segmenter"]),
        )

    return measure


SPEC = ComponentSpec(
    name="shot_quality",
    group="visual",
    description="Sharpness, exposure, contrast, colourfulness and noise per analysis frame "
    "and per shot.",
    step=measure_step,
    inputs=("segmenter", "cut_detection"),
    streams=("analysis",),
    arrays=("frame_times_s",),
    features=SHOT_QUALITY_FEATURES,
)
