"""Audio component assets: thin wiring from the segmenter's audio streams to dp_features."""

from dagster import AssetExecutionContext

from dp_assets.component_asset import component_asset
from dp_assets.component_step import ComponentOutput, VideoInput, run_component
from dp_core.artifact import Artifact
from dp_features.audio.loudness import LoudnessMeter
from dp_features.audio.onset_strength import OnsetStrengthStream
from dp_features.audio.tempo import tempo_from_onsets
from dp_resources.profile_resource import ProfileResource
from dp_resources.segmented_video import SegmentedVideo
from dp_resources.storage import StorageResource

NO_AUDIO = ComponentOutput(status="empty", warnings=["the video has no audio stream"])


@component_asset(
    "loudness_extractor",
    "audio",
    "Integrated loudness (LUFS), loudness range, true peak and the short-term curve per "
    "ITU-R BS.1770-4 / EBU R128, on the original channels and sample rate.",
    reads=("segmenter",),
)
def loudness_extractor(
    context: AssetExecutionContext,
    segmenter: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()

    def measure(video: VideoInput) -> ComponentOutput:
        frames = SegmentedVideo.from_artifact(store, video.upstream["segmenter"])
        if not frames.has_stream("audio_native"):
            return NO_AUDIO
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

    return run_component(
        context, "loudness_extractor", profile.load(), {"segmenter": segmenter}, measure
    )


@component_asset(
    "tempo_extractor",
    "audio",
    "Tempo (BPM), beat times, onset strength and beat confidence, from the 16 kHz mono track.",
    reads=("segmenter",),
)
def tempo_extractor(
    context: AssetExecutionContext,
    segmenter: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()

    def estimate(video: VideoInput) -> ComponentOutput:
        frames = SegmentedVideo.from_artifact(store, video.upstream["segmenter"])
        if not frames.has_stream("audio_model"):
            return NO_AUDIO
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
                "beats": len(result.beat_times_s),
                "beat_confidence": result.beat_confidence,
            },
        )

    return run_component(
        context, "tempo_extractor", profile.load(), {"segmenter": segmenter}, estimate
    )
