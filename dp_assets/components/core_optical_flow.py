"""`core_optical_flow`: motion per frame pair of the dense stream."""

from __future__ import annotations

from dp_assets.components._shared import analysis_meta, no_video
from dp_assets.step_api import ComponentOutput, PerVideo, PreviewSource, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec
from dp_features.previews import CurveLane, timeline
from dp_features.visual.optical_flow import OPTICAL_FLOW_FEATURES, FlowStats, OpticalFlowStream


def flow_step(step: StepContext) -> PerVideo:
    def flow(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        metadata = frames.metadata
        if not metadata["has_video"]:
            return no_video()
        stream = OpticalFlowStream(scale=metadata["width"] / metadata["dense_width"])
        stats = FlowStats.concat(
            [stream.update(c.frames, c.times_s) for c in frames.dense_chunks()]
        )
        return ComponentOutput(
            status="ok",
            arrays=stats.arrays(),
            meta=analysis_meta(video.upstream["segmenter"]),
            display={"pairs": len(stats.pair_times_s)},
        )

    return flow


def motion_preview(source: PreviewSource) -> bytes:
    a = source.arrays
    curve = CurveLane("motion energy", a["pair_times_s"], a["magnitude_mean_px_s"], "px/s")
    return timeline(source.duration_s, [curve], "mean optical-flow magnitude per frame pair")


SPEC = ComponentSpec(
    name="core_optical_flow",
    parallel_videos=True,
    group="visual",
    description="Per frame pair of the dense stream: flow magnitude stats, direction "
    "histogram and global (camera) motion in original-resolution pixels per second.",
    step=flow_step,
    inputs=("segmenter",),
    streams=("dense",),
    arrays=("pair_times_s", "magnitude_mean_px_s"),
    features=OPTICAL_FLOW_FEATURES,
    preview=motion_preview,
)
