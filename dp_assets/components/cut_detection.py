"""`cut_detection`: hard cuts and gradual transitions from the dense low-res stream.

`params.detector`: `combined` (our detector's candidates judged by TransNetV2, the real
model prepared by `dp models prepare transnetv2`: dp_features/visual/cut_fusion.py) or
`ours` (dp_features/visual/cut_detection.py alone: no model, for profiles that must run
without one). TransNetV2's 48x27 input is shrunk from the same dense frames (no second
decode); the dense stream holds every native frame up to `dense.max_fps` (25 in the shipped
profiles) and drops frames evenly above it, which TransNetV2 then sees as faster motion.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from dp_assets.components._shared import analysis_meta, no_video
from dp_assets.previews import frames_near
from dp_assets.step_api import (
    ComponentOutput,
    LoadOnce,
    PerVideo,
    PreviewSource,
    StepContext,
    VideoInput,
)
from dp_core.component_spec import ComponentSpec, Params
from dp_features.previews import contact_sheet, shots_shown
from dp_features.visual.cut_detection import CutDetector
from dp_features.visual.cut_detection_features import CUT_DETECTION_FEATURES
from dp_features.visual.cut_fusion import CombinedCutDetector
from dp_resources.models.families.transnetv2 import load_transnetv2


class CutDetectionParams(Params):
    # `ours` by default so that a profile that does not ask for the model needs no set-up;
    # cpu_baseline asks for `combined`.
    detector: Literal["combined", "ours"] = "ours"


def detect_step(step: StepContext) -> PerVideo:
    params: CutDetectionParams = step.params
    combined = params.detector == "combined"
    model = LoadOnce(lambda: load_transnetv2(**_local_options(step.model_options())))

    def detect(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.metadata["has_video"]:
            return no_video()
        transnet = model.get() if combined else None
        detector = CombinedCutDetector(transnet) if transnet else CutDetector()
        for chunk in frames.dense_chunks():
            detector.update(chunk.frames, chunk.times_s)
        result = detector.finish(frames.metadata["duration_s"])
        return ComponentOutput(
            status="ok",
            arrays=result.arrays(),
            meta=analysis_meta(video.upstream["segmenter"]),
            models_used=transnet.models_used if transnet else [],
            display={
                "cuts": len(result.cut_times_s),
                "gradual": int((result.cut_kinds == "gradual").sum()),
            },
        )

    return detect


def _local_options(options: dict) -> dict:
    """The loader takes a folder and ONNX providers (the step runs on the CPU queue)."""
    return {key: options[key] for key in ("model_dir", "providers") if key in options}


def shots_preview(source: PreviewSource) -> bytes:
    """cut_detection: a frame from the middle of each shot, cuts marked (contact sheet)."""
    arrays = source.arrays
    bounds = np.asarray(arrays["shot_bounds_s"], np.float64).reshape(-1, 2)
    shown = shots_shown(len(bounds))
    thumbnails = frames_near(source.frames, bounds[shown].mean(axis=1))
    return contact_sheet(
        thumbnails,
        shown,
        bounds,
        arrays["cut_times_s"],
        arrays["cut_kinds"],
        source.duration_s,
    )


SPEC = ComponentSpec(
    name="cut_detection",
    group="visual",
    description="Shot boundaries from the dense low-res stream: hard cuts and gradual "
    "transitions (dissolves, fades) with times, spans and confidence.",
    step=detect_step,
    inputs=("segmenter",),
    version="2",  # 2: wipes and slides, flash needs a jump back, frame jumps (issue 26)
    streams=("dense",),
    params=CutDetectionParams,
    arrays=("cut_times_s", "cut_kinds", "cut_confidence", "shot_bounds_s"),
    model_family="transnetv2",
    features=CUT_DETECTION_FEATURES,
    preview=shots_preview,
)
