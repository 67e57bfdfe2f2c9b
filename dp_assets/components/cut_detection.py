"""`cut_detection`: hard cuts and gradual transitions from the dense low-res stream."""

from __future__ import annotations

from dp_assets.components._shared import analysis_meta, no_video
from dp_assets.step_api import ComponentOutput, PerVideo, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec
from dp_features.dataset.feature_row import CUT_DETECTION_FEATURES
from dp_features.visual.cut_detection import CutDetector


def detect_step(step: StepContext) -> PerVideo:
    def detect(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.metadata["has_video"]:
            return no_video()
        detector = CutDetector()
        for chunk in frames.dense_chunks():
            detector.update(chunk.frames, chunk.times_s)
        result = detector.finish(frames.metadata["duration_s"])
        return ComponentOutput(
            status="ok",
            arrays=result.arrays(),
            meta=analysis_meta(video.upstream["segmenter"]),
            display={
                "cuts": len(result.cut_times_s),
                "gradual": int((result.cut_kinds == "gradual").sum()),
            },
        )

    return detect


SPEC = ComponentSpec(
    name="cut_detection",
    group="visual",
    description="Shot boundaries from the dense low-res stream: hard cuts and gradual "
    "transitions (dissolves, fades) with times, spans and confidence.",
    step=detect_step,
    inputs=("segmenter",),
    streams=("dense",),
    arrays=("cut_times_s", "cut_kinds", "cut_confidence", "shot_bounds_s"),
    features=CUT_DETECTION_FEATURES,
)
