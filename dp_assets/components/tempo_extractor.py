"""`tempo_extractor`: tempo (with confidence and the alternative level), beats and onset
strength from the 16 kHz mono track."""

from __future__ import annotations

from dp_assets.components._shared import no_audio
from dp_assets.step_api import ComponentOutput, PerVideo, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec
from dp_features.audio.onset_strength import OnsetStrengthStream
from dp_features.audio.tempo import tempo_from_onsets
from dp_features.audio.tempo_features import TEMPO_FEATURES


def estimate_step(step: StepContext) -> PerVideo:
    def estimate(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.has_stream("audio_model"):
            return no_audio()
        index = frames.audio_index("audio_model")
        onsets = OnsetStrengthStream(index["sample_rate"])
        for chunk in frames.audio_chunks("audio_model"):
            onsets.add(chunk.samples[0])
        result = tempo_from_onsets(onsets, start_time_s=index["start_s"])
        return ComponentOutput(
            status="ok",
            arrays=result.as_arrays(),
            display={
                "tempo_bpm": result.tempo_bpm,
                "tempo_confidence": result.tempo_confidence,
                "tempo_alt_bpm": result.tempo_alt_bpm,
                "tempo_alt_weight": result.tempo_alt_weight,
                "beats": len(result.beat_times_s),
                "beat_confidence": result.beat_confidence,
            },
        )

    return estimate


SPEC = ComponentSpec(
    name="tempo_extractor",
    parallel_videos=True,
    group="audio",
    description="Tempo (BPM) with its confidence and alternative metrical level, beat times, "
    "onset strength and beat confidence, from the 16 kHz mono track.",
    step=estimate_step,
    inputs=("segmenter",),
    streams=("audio_model",),
    arrays=("tempo_bpm", "tempo_confidence", "tempo_alt_bpm", "tempo_alt_weight", "beat_times_s"),
    # 2: metrical level by salience, confidence and alternative level; 3: range up to 800 BPM
    version="3",  # (issue 30)
    features=TEMPO_FEATURES,
)
