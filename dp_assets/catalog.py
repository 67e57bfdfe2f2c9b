"""Which components have an asset in this version, by component name."""

from dp_assets.audio import (
    audio_events,
    clap_extractor,
    loudness_extractor,
    speech_activity,
    tempo_extractor,
)
from dp_assets.segmenter import segmenter
from dp_assets.text import ocr, text_features
from dp_assets.visual import core_optical_flow, cut_detection, shot_quality, video_pacing
from dp_assets.visual_models import (
    core_clip,
    core_depth_midas,
    core_face_landmarks,
    core_object_detections,
)
from dp_assets.visual_modules import scene_classification, story_structure, uniqueness
from dp_resources.models.families.clap import load_clap
from dp_resources.models.families.clip import load_clip
from dp_resources.models.families.faces import load_face_landmarker
from dp_resources.models.families.midas import load_midas
from dp_resources.models.families.nanodet import load_object_detector
from dp_resources.models.families.packaged import load_silero_vad, load_yamnet

COMPONENT_ASSETS = {
    "segmenter": segmenter,
    "core_clip": core_clip,
    "core_face_landmarks": core_face_landmarks,
    "core_object_detections": core_object_detections,
    "core_depth_midas": core_depth_midas,
    "cut_detection": cut_detection,
    "core_optical_flow": core_optical_flow,
    "shot_quality": shot_quality,
    "video_pacing": video_pacing,
    "scene_classification": scene_classification,
    "uniqueness": uniqueness,
    "story_structure": story_structure,
    "loudness_extractor": loudness_extractor,
    "tempo_extractor": tempo_extractor,
    "speech_activity": speech_activity,
    "audio_events": audio_events,
    "clap_extractor": clap_extractor,
    "ocr": ocr,
    "text_features": text_features,
}

# Components whose model `dp doctor` loads to prove it is there (name -> loader).
MODEL_LOADERS = {
    "clap_extractor": load_clap,
    "core_clip": load_clip,
    "core_depth_midas": load_midas,
    "core_object_detections": load_object_detector,
    "core_face_landmarks": load_face_landmarker,
    "speech_activity": load_silero_vad,
    "audio_events": load_yamnet,
}
