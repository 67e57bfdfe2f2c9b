"""The component catalogue: every asset-graph component SPEC names and what it needs."""

from __future__ import annotations

# component -> the components it reads (SPEC: "The asset graph"). Order is display order.
COMPONENT_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "segmenter": (),
    "core_clip": ("segmenter",),
    "core_face_landmarks": ("segmenter",),
    "core_object_detections": ("segmenter",),
    "core_depth_midas": ("segmenter",),
    "core_optical_flow": ("segmenter",),
    "cut_detection": ("segmenter",),
    "shot_quality": ("segmenter", "cut_detection"),
    "scene_classification": ("core_clip", "cut_detection"),
    "video_pacing": ("cut_detection", "core_optical_flow"),
    "uniqueness": ("core_clip", "cut_detection"),
    "story_structure": ("cut_detection", "video_pacing"),
    "clap_extractor": ("segmenter",),
    "loudness_extractor": ("segmenter",),
    "tempo_extractor": ("segmenter",),
    "audio_events": ("segmenter",),
    "speech_activity": ("segmenter",),
    "ocr": ("segmenter",),
    "text_features": ("ocr",),
}

KNOWN_COMPONENTS = tuple(COMPONENT_DEPENDENCIES)

# Optional signals story_structure reads from the same run when the profile has them; it
# runs after them but does not need them ("audio + text signals" in SPEC's graph).
STORY_SIGNAL_SOURCES = ("loudness_extractor", "speech_activity", "ocr")

# Components that read the segmenter's analysis frames: each gets its own frame budget.
ANALYSIS_FRAME_CONSUMERS = (
    "core_clip",
    "core_face_landmarks",
    "core_object_detections",
    "core_depth_midas",
    "shot_quality",
    "ocr",
)

# Components that run a learned model: their steps go to the `gpu` Celery queue (workers
# that hold the accelerator / reach Triton). The rest are plain numpy/DSP on `cpu` workers.
MODEL_COMPONENTS = frozenset(
    {
        "core_clip",
        "core_face_landmarks",
        "core_object_detections",
        "core_depth_midas",
        "scene_classification",
        "clap_extractor",
        "audio_events",
        "speech_activity",
        "ocr",
        "text_features",
    }
)

# Components that can run on an accelerator (device: cuda) or on Triton (runtime: triton).
# The rest run on the CPU only (numpy/DSP, MediaPipe's Python graphs, Tesseract, USE on
# numpy): a profile asking them for cuda or triton is refused when it loads.
# (scene_classification embeds its prompts with CLIP's text tower where core_clip runs.)
ACCELERATED_COMPONENTS = frozenset(
    {
        "core_clip",
        "core_depth_midas",
        "core_object_detections",
        "clap_extractor",
        "speech_activity",
        "audio_events",
        "ocr",
    }
)
TRITON_COMPONENTS = frozenset(
    {
        "core_clip",
        "core_depth_midas",
        "core_object_detections",
        "clap_extractor",
    }
)
