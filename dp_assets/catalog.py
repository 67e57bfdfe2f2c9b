"""Which components have an asset in this version, by component name."""

from dp_assets.audio import loudness_extractor, tempo_extractor
from dp_assets.segmenter import segmenter

COMPONENT_ASSETS = {
    "segmenter": segmenter,
    "loudness_extractor": loudness_extractor,
    "tempo_extractor": tempo_extractor,
}
