"""`video_pacing`: cuts per minute, shot-length distribution, motion-energy curve."""

from __future__ import annotations

from dp_assets.components._shared import analysis_meta, no_video
from dp_assets.step_api import ComponentOutput, PerVideo, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec
from dp_features.visual.pacing import VIDEO_PACING_FEATURES
from dp_features.visual.pacing import video_pacing as pacing_of


def pace_step(step: StepContext) -> PerVideo:
    def pace(video: VideoInput) -> ComponentOutput:
        cuts, flow = video.upstream["cut_detection"], video.upstream["core_optical_flow"]
        if cuts.meta.status == "empty":
            return no_video()
        bounds = cuts.arrays["shot_bounds_s"]
        result = pacing_of(
            cuts.arrays["cut_times_s"],
            bounds,
            float(bounds[-1, 1]),
            flow.arrays["pair_times_s"],
            flow.arrays["magnitude_mean_px_s"],
        )
        return ComponentOutput(
            status="ok",
            arrays=result.arrays(),
            meta=analysis_meta(cuts),
            display={"cuts_per_minute": result.cuts_per_minute},
        )

    return pace


SPEC = ComponentSpec(
    name="video_pacing",
    parallel_videos=True,
    group="visual",
    description="Cuts per minute, shot-length distribution and the motion-energy curve.",
    step=pace_step,
    inputs=("cut_detection", "core_optical_flow"),
    features=VIDEO_PACING_FEATURES,
)
