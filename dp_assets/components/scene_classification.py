"""`scene_classification`: zero-shot scene labels per shot from CLIP embeddings."""

from __future__ import annotations

from pydantic import Field

from dp_assets.components._shared import analysis_meta, no_video
from dp_assets.step_api import ComponentOutput, LoadOnce, PerVideo, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec, Params
from dp_features.visual.scene_classification import SCENE_LABELS, classify_shots, scene_prompts
from dp_resources.models.families.clip import load_clip


class SceneParams(Params):
    labels: tuple[str, ...] = Field(tuple(SCENE_LABELS), min_length=2)
    temperature: float = Field(100.0, gt=0, description="CLIP logit scale")


def classify_step(step: StepContext) -> PerVideo:
    params: SceneParams = step.params
    labels = list(params.labels)

    def prompt_embeddings():
        # the text tower of the CLIP model core_clip runs, where core_clip runs it
        options = step.model_options("core_clip")
        model = load_clip(batch_size=len(labels), **options)
        return model, model.embed_text(scene_prompts(labels))

    prompts = LoadOnce(prompt_embeddings)

    def classify(video: VideoInput) -> ComponentOutput:
        clip, cuts = video.upstream["core_clip"], video.upstream["cut_detection"]
        if clip.meta.status == "empty" or cuts.meta.status == "empty":
            return no_video()
        model, text_embeddings = prompts.get()
        result = classify_shots(
            clip.arrays["frame_times_s"],
            clip.arrays["embeddings"],
            cuts.arrays["shot_bounds_s"],
            text_embeddings,
            labels,
            temperature=params.temperature,
        )
        arrays = result.as_arrays()
        return ComponentOutput(
            status=result.status,
            arrays=arrays,
            # the image tower ran in core_clip; the text tower here: both shaped the labels
            models_used=[*clip.meta.models_used, model.models_used[-1]],
            warnings=[result.reason] if result.reason else [],
            meta=analysis_meta(clip),
            display={"video_top_label": str(arrays["video_top_label"])},
        )

    return classify


SPEC = ComponentSpec(
    name="scene_classification",
    group="visual",
    description="Zero-shot scene labels per shot: CLIP frame embeddings averaged per shot "
    "against CLIP text embeddings of Places-style scene prompts.",
    step=classify_step,
    inputs=("core_clip", "cut_detection"),
    queue="gpu",
    params=SceneParams,
    arrays=("video_top_label",),
    model_family="clip",
)
