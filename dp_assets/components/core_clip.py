"""`core_clip`: CLIP image embeddings per sampled analysis frame, batched."""

from __future__ import annotations

import numpy as np

from dp_assets.components._frame_models import batched_frame_model
from dp_assets.step_api import Batched, LoadOnce, StepContext
from dp_core.component_spec import ComponentSpec
from dp_features.visual.model_inputs import clip_pixels
from dp_features.visual.shot_embeddings import CLIP_FEATURES
from dp_resources.models.batching import VideoOutputs
from dp_resources.models.families.clip import load_clip


def embed_step(step: StepContext) -> Batched:
    clip = LoadOnce(
        lambda: load_clip(
            batch_size=step.settings.batch_size,
            **step.model_options(),
        )
    )

    def summarise(model, result: VideoOutputs, _) -> dict:
        embeddings = np.asarray(result.outputs, np.float32).reshape(-1, model.embedding_dim)
        return {
            "status": "ok" if len(embeddings) else "empty",
            "arrays": {"frame_times_s": result.frame_times_s, "embeddings": embeddings},
            "models_used": [model.models_used[0]],  # the image tower
            "display": {"frames": len(embeddings)},
        }

    return batched_frame_model(
        step,
        clip,
        lambda frames: (clip_pixels(frames), None),
        lambda model, pixels: model.embed_pixels(pixels),
        summarise,
    )


SPEC = ComponentSpec(
    name="core_clip",
    group="visual",
    description="CLIP image embeddings (L2-normalised) per sampled analysis frame, batched "
    "across the videos of the step (OpenCLIP ViT-B/32 ONNX; a labelled stand-in in tests).",
    step=embed_step,
    inputs=("segmenter",),
    queue="gpu",
    devices=frozenset({"cpu", "cuda"}),
    runtimes=frozenset({"cpu", "onnxruntime", "triton"}),
    streams=("analysis",),
    arrays=("frame_times_s", "embeddings"),
    model_family="clip",
    features=CLIP_FEATURES,
)
