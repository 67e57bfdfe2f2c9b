"""Which components have an asset in this version, by component name."""

from dp_assets.segmenter import segmenter

COMPONENT_ASSETS = {
    "segmenter": segmenter,
}
