"""`silence_detection`: silent gaps (dead air), their share of the audio and the silence
before the first sound, from the 16 kHz mono track (dp_features/audio/silence.py).

Levels are those of the segmenter's mono track: swresample's downmix adds L and R at -3 dB
each, so a sound in both channels reads 3 dB above one channel's level; the default
threshold (-50 dBFS) is far from both.
"""

from __future__ import annotations

from pydantic import Field

from dp_assets.components._shared import no_audio, result_fields
from dp_assets.step_api import ComponentOutput, PerVideo, PreviewSource, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec, Params
from dp_features.audio.silence import (
    DEFAULT_MIN_SILENCE_S,
    DEFAULT_THRESHOLD_DBFS,
    SILENCE_FEATURES,
    silence_of_chunks,
)
from dp_features.previews import CurveLane, SpanLane, timeline


class SilenceParams(Params):
    threshold_dbfs: float = Field(
        DEFAULT_THRESHOLD_DBFS, ge=-100.0, le=-10.0, description="RMS level below: silent"
    )
    min_silence_s: float = Field(
        DEFAULT_MIN_SILENCE_S, gt=0.0, le=10.0, description="shortest silent run that is a gap"
    )


def detect_step(step: StepContext) -> PerVideo:
    params: SilenceParams = step.params

    def detect(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.has_stream("audio_model"):
            return no_audio()
        index = frames.audio_index("audio_model")
        result = silence_of_chunks(
            frames.audio_chunks("audio_model"),
            index["sample_rate"],
            params.threshold_dbfs,
            params.min_silence_s,
        )
        return ComponentOutput(
            **result_fields(
                result,
                lambda a: {
                    "silence_ratio": float(a["silence_ratio"]),
                    "gaps": len(a["silence_gaps_s"]),
                    "lead_in_silence_s": float(a["lead_in_silence_s"]),
                },
            )
        )

    return detect


def silence_preview(source: PreviewSource) -> bytes:
    """The level per window, the silent gaps under it."""
    a = source.arrays
    level = CurveLane("level", a["window_times_s"], a["window_dbfs"], "dBFS")
    gaps = SpanLane("silent gaps", a["silence_gaps_s"])
    title = (
        f"silence {float(a['silence_ratio']) * 100:.0f} % of the audio · longest "
        f"{float(a['longest_silence_s']):.1f} s · first sound at "
        f"{float(a['lead_in_silence_s']):.1f} s"
    )
    return timeline(source.duration_s, [level, gaps], title)


SPEC = ComponentSpec(
    name="silence_detection",
    parallel_videos=True,
    group="audio",
    description="Silent gaps (RMS below a dBFS threshold for at least a minimum time), their "
    "share of the audio, the longest, and the silence before the first sound; 16 kHz mono.",
    step=detect_step,
    inputs=("segmenter",),
    streams=("audio_model",),
    params=SilenceParams,
    arrays=("silence_gaps_s", "silence_ratio", "window_dbfs", "window_times_s"),
    features=SILENCE_FEATURES,
    preview=silence_preview,
)
