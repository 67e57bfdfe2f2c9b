"""Visual modules built on other components' artifacts: scene labels, uniqueness, story
structure. Thin wiring: upstream arrays in, dp_features out."""

from dagster import AssetExecutionContext, AssetKey

from dp_assets.component_asset import component_asset
from dp_assets.component_step import ComponentOutput, LoadOnce, VideoInput, run_component
from dp_assets.visual import NO_VIDEO, analysis_meta
from dp_core.artifact import Artifact, decode_artifact
from dp_core.components import STORY_SIGNAL_SOURCES
from dp_core.storage_keys import artifact_key
from dp_features.visual.scene_classification import SCENE_LABELS, classify_shots, scene_prompts
from dp_features.visual.story_structure import story_structure as structure_of
from dp_features.visual.uniqueness import visual_uniqueness
from dp_resources.models.families.clip import load_clip
from dp_resources.models.providers import runtime_options
from dp_resources.profile_resource import ProfileResource
from dp_resources.storage.backends import Storage
from dp_resources.storage.resource import StorageResource


@component_asset(
    "scene_classification",
    "visual",
    "Zero-shot scene labels per shot: CLIP frame embeddings averaged per shot against CLIP "
    "text embeddings of Places-style scene prompts.",
    reads=("core_clip", "cut_detection"),
)
def scene_classification(
    context: AssetExecutionContext,
    core_clip: dict[str, Artifact],
    cut_detection: dict[str, Artifact],
    profile: ProfileResource,
) -> dict[str, Artifact]:
    active_profile = profile.load()
    spec = active_profile.components["scene_classification"]
    labels = list(spec.params.get("labels", SCENE_LABELS))

    def prompt_embeddings():
        model = load_clip(batch_size=len(labels), **runtime_options(active_profile, "core_clip"))
        return model, model.embed_text(scene_prompts(labels))

    prompts = LoadOnce(prompt_embeddings)

    def classify(video: VideoInput) -> ComponentOutput:
        clip, cuts = video.upstream["core_clip"], video.upstream["cut_detection"]
        if clip.meta.status == "empty" or cuts.meta.status == "empty":
            return NO_VIDEO
        model, text_embeddings = prompts.get()
        result = classify_shots(
            clip.arrays["frame_times_s"],
            clip.arrays["embeddings"],
            cuts.arrays["shot_bounds_s"],
            text_embeddings,
            labels,
            temperature=float(spec.params.get("temperature", 100.0)),
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

    upstream = {"core_clip": core_clip, "cut_detection": cut_detection}
    return run_component(context, "scene_classification", active_profile, upstream, classify)


@component_asset(
    "uniqueness",
    "visual",
    "Near-duplicate frame ratio, repeated shots and visual diversity across shots, from CLIP "
    "embeddings and shot bounds; `signals_used` names what went in.",
    reads=("core_clip", "cut_detection"),
)
def uniqueness(
    context: AssetExecutionContext,
    core_clip: dict[str, Artifact],
    cut_detection: dict[str, Artifact],
    profile: ProfileResource,
) -> dict[str, Artifact]:
    active_profile = profile.load()
    params = active_profile.components["uniqueness"].params

    def measure(video: VideoInput) -> ComponentOutput:
        clip, cuts = video.upstream["core_clip"], video.upstream["cut_detection"]
        if clip.meta.status == "empty":
            return NO_VIDEO
        result = visual_uniqueness(
            clip.arrays["frame_times_s"],
            clip.arrays["embeddings"],
            cuts.arrays.get("shot_bounds_s"),
            near_duplicate_cosine=float(params.get("near_duplicate_cosine", 0.95)),
            min_gap_s=float(params.get("min_gap_s", 2.0)),
        )
        arrays = result.as_arrays()
        return ComponentOutput(
            status=result.status,
            arrays=arrays,
            models_used=clip.meta.models_used,
            warnings=[result.reason] if result.reason else [],
            meta=analysis_meta(clip),
            display={
                "near_duplicate_ratio": float(arrays["near_duplicate_ratio"]),
                "visual_diversity": float(arrays["visual_diversity"]),
                "signals_used": ", ".join(arrays["signals_used"].tolist()),
            },
        )

    upstream = {"core_clip": core_clip, "cut_detection": cut_detection}
    return run_component(context, "uniqueness", active_profile, upstream, measure)


def _signal_artifact(store: Storage, video: VideoInput, run_id: str, component: str):
    """This run's artifact of an optional signal source, or None (not in the profile,
    failed, or empty): story_structure then leaves that signal out and says so."""
    key = artifact_key(video.partition_key, run_id, component)
    if not store.exists(key):
        return None
    artifact = decode_artifact(store.get_bytes(key), key)
    return artifact if artifact.meta.status == "ok" else None


@component_asset(
    "story_structure",
    "visual",
    "Hook strength, energy arc, climax position and segment boundaries from cuts, motion "
    "and, where this run has them, loudness, speech and on-screen text.",
    reads=("cut_detection", "video_pacing"),
    deps=[AssetKey(name) for name in STORY_SIGNAL_SOURCES],
)
def story_structure(
    context: AssetExecutionContext,
    cut_detection: dict[str, Artifact],
    video_pacing: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()
    active_profile = profile.load()
    params = active_profile.components["story_structure"].params
    run_id = context.run.run_id

    def structure(video: VideoInput) -> ComponentOutput:
        cuts, pacing = video.upstream["cut_detection"], video.upstream["video_pacing"]
        if cuts.meta.status == "empty":
            return NO_VIDEO
        signals = {}
        loudness = _signal_artifact(store, video, run_id, "loudness_extractor")
        if loudness is not None:
            signals["loudness_times_s"] = loudness.arrays["short_term_times_s"]
            signals["short_term_lufs"] = loudness.arrays["short_term_lufs"]
        speech = _signal_artifact(store, video, run_id, "speech_activity")
        if speech is not None:
            signals["speech_segments_s"] = speech.arrays["speech_segments_s"]
        ocr = _signal_artifact(store, video, run_id, "ocr")
        if ocr is not None:
            signals["text_spans_s"] = ocr.arrays["lines_span_s"]
        result = structure_of(
            float(cuts.arrays["shot_bounds_s"][-1, 1]),
            cut_times_s=cuts.arrays["cut_times_s"],
            motion_times_s=pacing.arrays.get("motion_grid_s"),
            motion_energy=pacing.arrays.get("motion_energy"),
            hook_seconds=float(params.get("hook_seconds", 3.0)),
            **signals,
        )
        arrays = result.as_arrays()
        return ComponentOutput(
            status=result.status,
            arrays=arrays,
            warnings=[result.reason] if result.reason else [],
            meta=analysis_meta(cuts),
            display={
                "energy_arc": str(arrays["energy_arc"]),
                "climax_position": float(arrays["climax_position"]),
                "signals_used": ", ".join(arrays["signals_used"].tolist()),
            },
        )

    upstream = {"cut_detection": cut_detection, "video_pacing": video_pacing}
    return run_component(context, "story_structure", active_profile, upstream, structure)
