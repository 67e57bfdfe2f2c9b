"""`clap_extractor`: CLAP audio embeddings per 10 s window and zero-shot tags."""

from __future__ import annotations

from pydantic import Field

from dp_assets.components._shared import no_audio
from dp_assets.step_api import ComponentOutput, LoadOnce, PerVideo, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec, Params
from dp_features.audio.clap import (
    DEFAULT_PROMPT_TEMPLATE,
    DEFAULT_TAGS,
    DEFAULT_TEMPERATURE,
    WINDOW_S,
    ClapParams,
    clap_embeddings,
)
from dp_resources.models.families.clap import load_clap


class ClapSettings(Params):
    hop_s: float = Field(WINDOW_S, gt=0, description="seconds between window starts")
    tags: tuple[str, ...] = Field(DEFAULT_TAGS, min_length=1)
    prompt_template: str = Field(DEFAULT_PROMPT_TEMPLATE, pattern=r"\{\}")
    temperature: float = Field(DEFAULT_TEMPERATURE, gt=0)
    top_k: int = Field(5, ge=0)


def embed_step(step: StepContext) -> PerVideo:
    params = ClapParams(batch_size=step.settings.batch_size, **step.params.model_dump())
    clap = LoadOnce(
        lambda: load_clap(
            batch_size=step.settings.batch_size,
            **step.model_options(),
        )
    )

    def embed(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.has_stream("audio_native"):
            return no_audio()
        model = clap.get()
        index = frames.audio_index("audio_native")
        result = clap_embeddings(
            frames.audio_chunks("audio_native"), model, index["sample_rate"], params
        )
        return ComponentOutput(
            status=result.status,
            arrays=result.as_arrays(),
            models_used=model.models_used,
            device=model.models_used[0].device,
            display={"top_tags": ", ".join(result.top_tags.tolist())},
        )

    return embed


SPEC = ComponentSpec(
    name="clap_extractor",
    group="audio",
    description="CLAP audio embeddings per 10 s window and zero-shot tags from text "
    "prompts (LAION CLAP ONNX export; a labelled stand-in in tests).",
    step=embed_step,
    inputs=("segmenter",),
    queue="gpu",
    devices=frozenset({"cpu", "cuda"}),
    runtimes=frozenset({"cpu", "onnxruntime", "triton"}),
    streams=("audio_native",),
    params=ClapSettings,
    model_family="clap",
)
