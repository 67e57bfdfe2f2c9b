"""Which components have an asset in this version, by component name."""

from dp_assets.audio import audio_events, loudness_extractor, speech_activity, tempo_extractor
from dp_assets.segmenter import segmenter

COMPONENT_ASSETS = {
    "segmenter": segmenter,
    "loudness_extractor": loudness_extractor,
    "tempo_extractor": tempo_extractor,
    "speech_activity": speech_activity,
    "audio_events": audio_events,
}
