"""Visual component assets that need no model weights: cuts, optical flow, shot quality,
pacing. Thin wiring from the segmenter's frame streams to dp_features/visual."""

import numpy as np
from dagster import AssetExecutionContext

from dp_assets.component_asset import component_asset
from dp_assets.component_step import ComponentOutput, VideoInput, run_component
from dp_core.artifact import Artifact
from dp_features.visual.cut_detection import CutDetector
from dp_features.visual.optical_flow import FlowStats, OpticalFlowStream
from dp_features.visual.pacing import video_pacing as pacing_of
from dp_features.visual.shot_quality import FRAME_METRICS, FrameQuality, frame_quality
from dp_features.visual.shot_quality import shot_quality as per_shot
from dp_resources.profile_resource import ProfileResource
from dp_resources.storage.resource import StorageResource

NO_VIDEO = ComponentOutput(status="empty", warnings=["the file has no video stream"])


def analysis_meta(upstream: Artifact) -> dict:
    """The analysis parameters every visual artifact records (SPEC: NPZ artifact), copied
    from the segmenter's artifact or from an upstream visual one."""
    meta = upstream.meta
    return {
        "analysis_fps": meta.analysis_fps,
        "analysis_width": meta.analysis_width,
        "analysis_height": meta.analysis_height,
    }


@component_asset(
    "cut_detection",
    "visual",
    "Shot boundaries from the dense low-res stream: hard cuts and gradual transitions "
    "(dissolves, fades) with times, spans and confidence.",
    reads=("segmenter",),
)
def cut_detection(
    context: AssetExecutionContext,
    segmenter: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()

    def detect(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.metadata["has_video"]:
            return NO_VIDEO
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

    return run_component(
        context, "cut_detection", profile.load(), {"segmenter": segmenter}, detect, storage=store
    )


@component_asset(
    "core_optical_flow",
    "visual",
    "Per frame pair of the dense stream: flow magnitude stats, direction histogram and "
    "global (camera) motion in original-resolution pixels per second.",
    reads=("segmenter",),
)
def core_optical_flow(
    context: AssetExecutionContext,
    segmenter: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()

    def flow(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        metadata = frames.metadata
        if not metadata["has_video"]:
            return NO_VIDEO
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

    return run_component(
        context, "core_optical_flow", profile.load(), {"segmenter": segmenter}, flow, storage=store
    )


@component_asset(
    "shot_quality",
    "visual",
    "Sharpness, exposure, contrast, colourfulness and noise per analysis frame and per shot.",
    reads=("segmenter", "cut_detection"),
)
def shot_quality(
    context: AssetExecutionContext,
    segmenter: dict[str, Artifact],
    cut_detection: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()

    def measure(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.metadata["has_video"]:
            return NO_VIDEO
        parts, times = [], []
        for chunk in frames.budget_frames("shot_quality"):
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

    upstream = {"segmenter": segmenter, "cut_detection": cut_detection}
    return run_component(context, "shot_quality", profile.load(), upstream, measure, storage=store)


@component_asset(
    "video_pacing",
    "visual",
    "Cuts per minute, shot-length distribution and the motion-energy curve.",
    reads=("cut_detection", "core_optical_flow"),
)
def video_pacing(
    context: AssetExecutionContext,
    cut_detection: dict[str, Artifact],
    core_optical_flow: dict[str, Artifact],
    profile: ProfileResource,
) -> dict[str, Artifact]:
    def pace(video: VideoInput) -> ComponentOutput:
        cuts, flow = video.upstream["cut_detection"], video.upstream["core_optical_flow"]
        if cuts.meta.status == "empty":
            return NO_VIDEO
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

    upstream = {"cut_detection": cut_detection, "core_optical_flow": core_optical_flow}
    return run_component(context, "video_pacing", profile.load(), upstream, pace)
