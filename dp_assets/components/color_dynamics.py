"""`color_dynamics`: colour palette per shot, brightness and colour over time."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from dp_assets.components._shared import analysis_meta, no_video
from dp_assets.step_api import ComponentOutput, PerVideo, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec, Params
from dp_features.visual.color_dynamics import (
    COLOR_DYNAMICS_FEATURES,
    FrameColors,
    color_dynamics,
    frame_colors,
)


class ColorParams(Params):
    levels: int = Field(8, ge=2, le=16, description="quantisation levels per channel")
    palette_size: int = Field(5, ge=1, le=16, description="colours per shot palette")


def palette_step(step: StepContext) -> PerVideo:
    params: ColorParams = step.params

    def measure(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.metadata["has_video"]:
            return no_video()
        parts, times = [], []
        for chunk in frames.budget_frames(step.name):
            parts.append(frame_colors(chunk.frames, params.levels))
            times.append(chunk.times_s)
        if not parts:
            return ComponentOutput(status="empty", warnings=["no analysis frame in the budget"])
        colors = FrameColors(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in FrameColors.__annotations__)
        )
        result = color_dynamics(
            np.concatenate(times),
            colors,
            video.upstream["cut_detection"].arrays["shot_bounds_s"],
            levels=params.levels,
            palette_size=params.palette_size,
        )
        return ComponentOutput(
            status="ok",
            arrays=result.as_arrays(),
            meta=analysis_meta(video.upstream["segmenter"]),
            display={
                "palette_colors": result.palette_colors,
                "brightness_change_per_s": result.brightness_change_per_s,
            },
        )

    return measure


SPEC = ComponentSpec(
    name="color_dynamics",
    parallel_videos=True,
    group="visual",
    description="Colour palette per shot (most frequent quantised colours and their "
    "shares), brightness, saturation and warmth per frame, and how fast brightness changes.",
    step=palette_step,
    inputs=("segmenter", "cut_detection"),
    streams=("analysis",),
    params=ColorParams,
    arrays=("frame_times_s", "brightness", "shot_palette_rgb", "shot_palette_share"),
    features=COLOR_DYNAMICS_FEATURES,
)
