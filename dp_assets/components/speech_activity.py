"""`speech_activity`: speech segments and ratio (Silero VAD) on the 16 kHz mono track.

With `audio_events` in the profile (an optional input: it runs first), segments that
YAMNet calls music and Silero is not sure of are dropped (`gate_music`,
dp_features/audio/speech_activity.py); the artifact keeps them as `dropped_segments_s`.
Without it the segments are Silero's alone, and the artifact says so (meta `music_gate`
"off" and a warning).
"""

from __future__ import annotations

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
from dp_features.audio.audio_events import WINDOW_S
from dp_features.audio.speech_activity import SPEECH_FEATURES, gate_music
from dp_features.audio.speech_activity import speech_activity as detect_speech
from dp_features.previews import CurveLane, SpanLane, timeline
from dp_resources.models.families.packaged import load_silero_vad
from dp_resources.models.providers import onnx_providers


def detect_step(step: StepContext) -> PerVideo:
    vad = LoadOnce(lambda: load_silero_vad(onnx_providers(step.settings.device)))

    def detect(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.has_stream("audio_model"):
            return no_audio()
        model = vad.get()
        result = detect_speech(frames.audio_chunks("audio_model"), model)
        events = video.usable("audio_events")
        arrays, warnings = {}, []
        if events is not None:
            gated = gate_music(
                result, events.arrays["window_times_s"], events.arrays["window_scores"], WINDOW_S
            )
            result = gated.activity
            arrays["dropped_segments_s"] = gated.dropped_segments_s
            music_gate = "on"
        else:
            music_gate = "off"
            warnings.append("music gate off: no usable audio_events artifact for this video")
        return ComponentOutput(
            status=result.status,
            arrays={**result.as_arrays(), **arrays},
            warnings=warnings,
            meta={"music_gate": music_gate},
            models_used=[model.model_used],
            device=model.model_used.device,
            display={
                "speech_ratio": result.speech_ratio,
                "segments": len(result.speech_segments_s),
            },
        )

    return detect


def speech_preview(source: PreviewSource) -> bytes:
    a = source.arrays
    lanes: list = [SpanLane("speech", a["speech_segments_s"])]
    if "speech_probability" in a:
        lanes.append(CurveLane("probability", a["probability_times_s"], a["speech_probability"]))
    title = f"speech {float(a['speech_ratio']) * 100:.0f} % of the audio"
    return timeline(source.duration_s, lanes, title)


SPEC = ComponentSpec(
    name="speech_activity",
    group="audio",
    description="Speech segments and speech ratio (Silero VAD, ONNX from its wheel), 16 kHz "
    "mono; segments that audio_events calls music are dropped unless Silero is sure.",
    step=detect_step,
    inputs=("segmenter",),
    optional_inputs=("audio_events",),
    version="2",  # 2: music gate with audio_events (issue 26)
    queue="gpu",
    devices=frozenset({"cpu", "cuda"}),
    runtimes=frozenset({"cpu", "onnxruntime"}),
    streams=("audio_model",),
    arrays=("speech_segments_s", "speech_ratio"),
    model_family="silero",
    features=SPEECH_FEATURES,
    preview=speech_preview,
)
