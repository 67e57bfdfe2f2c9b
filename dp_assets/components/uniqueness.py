"""`uniqueness`: near-duplicates, repeated shots and visual diversity from CLIP."""

from __future__ import annotations

from pydantic import Field

from dp_assets.components._shared import analysis_meta, no_video
from dp_assets.step_api import ComponentOutput, PerVideo, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec, Params
from dp_features.visual.uniqueness import visual_uniqueness


class UniquenessParams(Params):
    near_duplicate_cosine: float = Field(0.95, gt=0, le=1)
    min_gap_s: float = Field(2.0, ge=0, description="frames closer in time never count")


def measure_step(step: StepContext) -> PerVideo:
    params: UniquenessParams = step.params

    def measure(video: VideoInput) -> ComponentOutput:
        clip, cuts = video.upstream["core_clip"], video.upstream["cut_detection"]
        if clip.meta.status == "empty":
            return no_video()
        result = visual_uniqueness(
            clip.arrays["frame_times_s"],
            clip.arrays["embeddings"],
            cuts.arrays.get("shot_bounds_s"),
            near_duplicate_cosine=params.near_duplicate_cosine,
            min_gap_s=params.min_gap_s,
        )
        arrays = result.as_arrays()
        return ComponentOutput(
            status=result.status,
            arrays=arrays,
            models_used=clip.meta.models_used,
            warnings=[result.reason] if result.reason else [],
            meta=analysis_meta(clip),
            display={
                "near_duplicate_ratio": float(arrays["near_duplicate_ratio"]),
                "visual_diversity": float(arrays["visual_diversity"]),
                "signals_used": ", ".join(arrays["signals_used"].tolist()),
            },
        )

    return measure


SPEC = ComponentSpec(
    name="uniqueness",
    parallel_videos=True,
    group="visual",
    description="Near-duplicate frame ratio, repeated shots and visual diversity across "
    "shots, from CLIP embeddings and shot bounds; `signals_used` names what went in.",
    step=measure_step,
    inputs=("core_clip", "cut_detection"),
    params=UniquenessParams,
    arrays=("near_duplicate_ratio", "visual_diversity", "signals_used"),
)
