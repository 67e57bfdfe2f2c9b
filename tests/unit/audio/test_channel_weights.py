import av
import numpy as np
import pytest

from dp_features.audio.channel_weights import (
    DEFAULT_LAYOUT_FOR_COUNT,
    LAYOUT_CHANNELS,
    channel_weights,
    layout_channel_names,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("layout", sorted(LAYOUT_CHANNELS))
def test_layout_table_matches_the_decoder(layout):
    # The decoder (PyAV / FFmpeg) is the truth for which channel sits where.
    assert LAYOUT_CHANNELS[layout] == tuple(c.name for c in av.AudioLayout(layout).channels)


def test_default_layouts_have_their_channel_count():
    for count, layout in DEFAULT_LAYOUT_FOR_COUNT.items():
        assert len(LAYOUT_CHANNELS[layout]) == count


@pytest.mark.parametrize(
    ("layout", "weights"),
    [
        ("mono", [1.0]),
        ("stereo", [1.0, 1.0]),
        ("2.1", [1.0, 1.0, 0.0]),
        ("5.1", [1.0, 1.0, 1.0, 0.0, 1.41, 1.41]),
        ("5.1(side)", [1.0, 1.0, 1.0, 0.0, 1.41, 1.41]),
        ("7.1", [1.0, 1.0, 1.0, 0.0, 1.41, 1.41, 1.41, 1.41]),
        ("6 channels", [1.0, 1.0, 1.0, 0.0, 1.41, 1.41]),  # FFmpeg's default for 6 is 5.1
        ("FL+FR+LFE", [1.0, 1.0, 0.0]),
    ],
)
def test_bs1770_weights(layout, weights):
    # BS.1770-4 table 3: L/R/C 1.0, surrounds 1.41, LFE excluded.
    np.testing.assert_array_equal(channel_weights(layout, len(weights)), weights)


def test_unknown_layout_and_wrong_count_are_errors():
    with pytest.raises(ValueError, match="unknown"):
        layout_channel_names("atmos-ish", 2)
    with pytest.raises(ValueError, match="has 2 channels"):
        layout_channel_names("stereo", 6)
