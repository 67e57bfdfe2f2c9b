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
from dp_assets.visual_models import core_face_landmarks
from dp_resources.clap_model import load_clap
from dp_resources.face_models import load_face_landmarker
from dp_resources.packaged_models import load_silero_vad, load_yamnet

COMPONENT_ASSETS = {
    "segmenter": segmenter,
    "core_face_landmarks": core_face_landmarks,
    "cut_detection": cut_detection,
    "core_optical_flow": core_optical_flow,
    "shot_quality": shot_quality,
    "video_pacing": video_pacing,
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
    "core_face_landmarks": load_face_landmarker,
    "speech_activity": load_silero_vad,
    "audio_events": load_yamnet,
}
