"""`loudness_extractor`: BS.1770-4 / EBU R128 loudness on the original audio."""

from __future__ import annotations

from dp_assets.components._shared import no_audio
from dp_assets.step_api import ComponentOutput, PerVideo, PreviewSource, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec
from dp_features.audio.loudness import LOUDNESS_FEATURES, LoudnessMeter
from dp_features.previews import CurveLane, timeline


def measure_step(step: StepContext) -> PerVideo:
    def measure(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.has_stream("audio_native"):
            return no_audio()
        index = frames.audio_index("audio_native")
        layout = frames.metadata["audio_layout"] or "+".join(index["channel_names"])
        meter = LoudnessMeter(
            index["sample_rate"], layout, index["channels"], start_time_s=index["start_s"]
        )
        for chunk in frames.audio_chunks("audio_native"):
            meter.add(chunk.samples)
        result = meter.result()
        return ComponentOutput(
            status="ok",
            arrays=result.as_arrays(),
            display={
                "integrated_lufs": result.integrated_lufs,
                "loudness_range_lu": result.loudness_range_lu,
                "true_peak_dbtp": result.true_peak_dbtp,
            },
        )

    return measure


def loudness_preview(source: PreviewSource) -> bytes:
    a = source.arrays
    title = (
        f"integrated {float(a['integrated_lufs']):.1f} LUFS · range "
        f"{float(a['loudness_range_lu']):.1f} LU · true peak {float(a['true_peak_dbtp']):.1f} dBTP"
    )
    curve = CurveLane("short-term (3 s)", a["short_term_times_s"], a["short_term_lufs"], "LUFS")
    return timeline(source.duration_s, [curve], title)


SPEC = ComponentSpec(
    name="loudness_extractor",
    parallel_videos=True,
    group="audio",
    description="Integrated loudness (LUFS), loudness range, true peak and the short-term "
    "curve per ITU-R BS.1770-4 / EBU R128, on the original channels and sample rate.",
    step=measure_step,
    inputs=("segmenter",),
    streams=("audio_native",),
    arrays=(
        "integrated_lufs",
        "loudness_range_lu",
        "true_peak_dbtp",
        "short_term_lufs",
        "short_term_times_s",
    ),
    features=LOUDNESS_FEATURES,
    preview=loudness_preview,
)
