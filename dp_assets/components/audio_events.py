"""`audio_events`: AudioSet event scores per window, top labels, embedding (YAMNet)."""

from __future__ import annotations

import numpy as np

from dp_assets.components._shared import no_audio
from dp_assets.step_api import (
    ComponentOutput,
    LoadOnce,
    PerVideo,
    PreviewSource,
    StepContext,
    VideoInput,
)
from dp_core.component_spec import ComponentSpec
from dp_features.audio.audio_events import AUDIO_EVENTS_FEATURES
from dp_features.audio.audio_events import audio_events as tag_audio_events
from dp_features.previews import HeatLane, timeline
from dp_resources.models.families.packaged import (
    load_yamnet,
    yamnet_class_names,
    yamnet_quantization,
)
from dp_resources.models.providers import onnx_providers


def tag_step(step: StepContext) -> PerVideo:
    providers = onnx_providers(step.settings.device)
    yamnet = LoadOnce(lambda: (load_yamnet(providers), yamnet_quantization(), yamnet_class_names()))

    def tag(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.has_stream("audio_model"):
            return no_audio()
        model, quantization, class_names = yamnet.get()
        result = tag_audio_events(
            frames.audio_chunks("audio_model"),
            model,
            quantization,
            class_names,
            batch_size=step.settings.batch_size,
        )
        return ComponentOutput(
            status=result.status,
            arrays=result.as_arrays(),
            models_used=[model.model_used],
            device=model.model_used.device,
            display={"top_labels": ", ".join(result.top_labels.tolist())},
        )

    return tag


PREVIEW_ROWS = 5  # labels shown in the preview


def audio_events_preview(source: PreviewSource) -> bytes:
    """The top labels' scores per window, one row each (columns found by mean score)."""
    a = source.arrays
    labels = [str(t) for t in np.asarray(a["top_labels"]).ravel()[:PREVIEW_ROWS]]
    columns = np.argsort(-np.asarray(a["class_scores"]), kind="stable")[: len(labels)]
    scores = np.asarray(a["window_scores"])[:, columns]
    lane = HeatLane("audio events", a["window_times_s"], scores, labels)
    return timeline(source.duration_s, [lane], "top audio events, score per 0.96 s window")


SPEC = ComponentSpec(
    name="audio_events",
    group="audio",
    description="AudioSet event scores per 0.96 s window, top labels and an embedding "
    "(YAMNet, ONNX).",
    step=tag_step,
    inputs=("segmenter",),
    queue="gpu",
    devices=frozenset({"cpu", "cuda"}),
    runtimes=frozenset({"cpu", "onnxruntime"}),
    streams=("audio_model",),
    arrays=("top_labels", "class_scores"),
    model_family="yamnet",
    features=AUDIO_EVENTS_FEATURES,
    preview=audio_events_preview,
)
