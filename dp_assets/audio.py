"""Audio component assets: thin wiring from the segmenter's audio streams to dp_features."""

from dagster import AssetExecutionContext

from dp_assets.component_asset import component_asset
from dp_assets.component_step import ComponentOutput, LoadOnce, VideoInput, run_component
from dp_core.artifact import Artifact
from dp_features.audio.audio_events import audio_events as tag_audio_events
from dp_features.audio.clap import ClapParams, clap_embeddings
from dp_features.audio.loudness import LoudnessMeter
from dp_features.audio.onset_strength import OnsetStrengthStream
from dp_features.audio.speech_activity import speech_activity as detect_speech
from dp_features.audio.tempo import tempo_from_onsets
from dp_resources.models.families.clap import load_clap
from dp_resources.models.families.packaged import (
    load_silero_vad,
    load_yamnet,
    yamnet_class_names,
    yamnet_quantization,
)
from dp_resources.models.providers import onnx_providers, runtime_options
from dp_resources.profile_resource import ProfileResource
from dp_resources.storage.resource import StorageResource

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
        frames = video.frames
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
        context,
        "loudness_extractor",
        profile.load(),
        {"segmenter": segmenter},
        measure,
        storage=store,
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
        frames = video.frames
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
        context,
        "tempo_extractor",
        profile.load(),
        {"segmenter": segmenter},
        estimate,
        storage=store,
    )


@component_asset(
    "speech_activity",
    "audio",
    "Speech segments and speech ratio (Silero VAD, ONNX from its wheel), 16 kHz mono.",
    reads=("segmenter",),
)
def speech_activity(
    context: AssetExecutionContext,
    segmenter: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()
    spec = profile.load().components["speech_activity"]
    vad = LoadOnce(lambda: load_silero_vad(onnx_providers(spec.device)))

    def detect(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.has_stream("audio_model"):
            return NO_AUDIO
        model = vad.get()
        result = detect_speech(frames.audio_chunks("audio_model"), model)
        return ComponentOutput(
            status=result.status,
            arrays=result.as_arrays(),
            models_used=[model.model_used],
            display={
                "speech_ratio": result.speech_ratio,
                "segments": len(result.speech_segments_s),
            },
        )

    return run_component(
        context, "speech_activity", profile.load(), {"segmenter": segmenter}, detect, storage=store
    )


@component_asset(
    "audio_events",
    "audio",
    "AudioSet event scores per 0.96 s window, top labels and an embedding (YAMNet, ONNX).",
    reads=("segmenter",),
)
def audio_events(
    context: AssetExecutionContext,
    segmenter: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()
    active_profile = profile.load()
    providers = onnx_providers(active_profile.components["audio_events"].device)
    yamnet = LoadOnce(lambda: (load_yamnet(providers), yamnet_quantization(), yamnet_class_names()))

    def tag(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.has_stream("audio_model"):
            return NO_AUDIO
        model, quantization, class_names = yamnet.get()
        result = tag_audio_events(
            frames.audio_chunks("audio_model"),
            model,
            quantization,
            class_names,
            batch_size=active_profile.components["audio_events"].batch_size,
        )
        return ComponentOutput(
            status=result.status,
            arrays=result.as_arrays(),
            models_used=[model.model_used],
            display={"top_labels": ", ".join(result.top_labels.tolist())},
        )

    return run_component(
        context, "audio_events", active_profile, {"segmenter": segmenter}, tag, storage=store
    )


@component_asset(
    "clap_extractor",
    "audio",
    "CLAP audio embeddings per 10 s window and zero-shot tags from text prompts (LAION CLAP "
    "ONNX export; a labelled stand-in in tests).",
    reads=("segmenter",),
)
def clap_extractor(
    context: AssetExecutionContext,
    segmenter: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()
    active_profile = profile.load()
    spec = active_profile.components["clap_extractor"]
    params = ClapParams(batch_size=spec.batch_size, **spec.params)
    clap = LoadOnce(
        lambda: load_clap(
            batch_size=spec.batch_size, **runtime_options(active_profile, "clap_extractor")
        )
    )

    def embed(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.has_stream("audio_native"):
            return NO_AUDIO
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

    return run_component(
        context, "clap_extractor", active_profile, {"segmenter": segmenter}, embed, storage=store
    )
