"""`story_structure`: hook, energy arc, climax and segments from cuts, motion and the
run's loudness, speech and on-screen text where the profile has them."""

from __future__ import annotations

from pydantic import Field

from dp_assets.components._shared import analysis_meta, no_video
from dp_assets.step_api import ComponentOutput, PerVideo, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec, Params
from dp_features.visual.story_structure import story_structure as structure_of


class StoryParams(Params):
    hook_seconds: float = Field(3.0, gt=0, description="the opening that makes the hook")


def structure_step(step: StepContext) -> PerVideo:
    params: StoryParams = step.params

    def structure(video: VideoInput) -> ComponentOutput:
        cuts, pacing = video.upstream["cut_detection"], video.upstream["video_pacing"]
        if cuts.meta.status == "empty":
            return no_video()
        # an optional signal that is absent, empty or failed is left out, and said so
        signals = {}
        if loudness := video.usable("loudness_extractor"):
            signals["loudness_times_s"] = loudness.arrays["short_term_times_s"]
            signals["short_term_lufs"] = loudness.arrays["short_term_lufs"]
        if speech := video.usable("speech_activity"):
            signals["speech_segments_s"] = speech.arrays["speech_segments_s"]
        if ocr := video.usable("ocr"):
            signals["text_spans_s"] = ocr.arrays["lines_span_s"]
        result = structure_of(
            float(cuts.arrays["shot_bounds_s"][-1, 1]),
            cut_times_s=cuts.arrays["cut_times_s"],
            motion_times_s=pacing.arrays.get("motion_grid_s"),
            motion_energy=pacing.arrays.get("motion_energy"),
            hook_seconds=params.hook_seconds,
            **signals,
        )
        arrays = result.as_arrays()
        return ComponentOutput(
            status=result.status,
            arrays=arrays,
            warnings=[result.reason] if result.reason else [],
            meta=analysis_meta(cuts),
            display={
                "energy_arc": str(arrays["energy_arc"]),
                "climax_position": float(arrays["climax_position"]),
                "signals_used": ", ".join(arrays["signals_used"].tolist()),
            },
        )

    return structure


SPEC = ComponentSpec(
    name="story_structure",
    parallel_videos=True,
    group="visual",
    description="Hook strength, energy arc, climax position and segment boundaries from "
    "cuts, motion and, where this run has them, loudness, speech and on-screen text.",
    step=structure_step,
    inputs=("cut_detection", "video_pacing"),
    optional_inputs=("loudness_extractor", "speech_activity", "ocr"),
    params=StoryParams,
    arrays=("energy_arc", "climax_position", "signals_used"),
)
