"""BS.1770-4 channel weights (G_i) for FFmpeg channel layouts.

The decoder (PyAV / FFmpeg) names the layout ("stereo", "5.1", "7.1(wide)", ...) and every
channel ("FL", "LFE", "BL", ...). BS.1770-4 weights the front channels 1.0, the surround
channels 1.41 (+1.5 dB) and leaves the LFE out. Which FFmpeg channel counts as "surround"
follows FFmpeg's own `ebur128` filter (libavfilter/af_ebur128.c, BACK_MASK): every back,
side, top-back and surround-direct channel gets 1.41. That keeps our numbers comparable with
`ffmpeg -af ebur128`, which is what a user is most likely to cross-check against.
"""

from __future__ import annotations

import re

import numpy as np

# FFmpeg's channel order for each named layout (libavutil/channel_layout.c). The unit tests
# check every entry against PyAV, so this table cannot drift from the decoder silently.
LAYOUT_CHANNELS: dict[str, tuple[str, ...]] = {
    "mono": ("FC",),
    "stereo": ("FL", "FR"),
    "2.1": ("FL", "FR", "LFE"),
    "3.0": ("FL", "FR", "FC"),
    "3.0(back)": ("FL", "FR", "BC"),
    "4.0": ("FL", "FR", "FC", "BC"),
    "quad": ("FL", "FR", "BL", "BR"),
    "quad(side)": ("FL", "FR", "SL", "SR"),
    "3.1": ("FL", "FR", "FC", "LFE"),
    "5.0": ("FL", "FR", "FC", "BL", "BR"),
    "5.0(side)": ("FL", "FR", "FC", "SL", "SR"),
    "4.1": ("FL", "FR", "FC", "LFE", "BC"),
    "5.1": ("FL", "FR", "FC", "LFE", "BL", "BR"),
    "5.1(side)": ("FL", "FR", "FC", "LFE", "SL", "SR"),
    "6.0": ("FL", "FR", "FC", "BC", "SL", "SR"),
    "6.0(front)": ("FL", "FR", "FLC", "FRC", "SL", "SR"),
    "hexagonal": ("FL", "FR", "FC", "BL", "BR", "BC"),
    "6.1": ("FL", "FR", "FC", "LFE", "BC", "SL", "SR"),
    "6.1(back)": ("FL", "FR", "FC", "LFE", "BL", "BR", "BC"),
    "6.1(front)": ("FL", "FR", "LFE", "FLC", "FRC", "SL", "SR"),
    "7.0": ("FL", "FR", "FC", "BL", "BR", "SL", "SR"),
    "7.0(front)": ("FL", "FR", "FC", "FLC", "FRC", "SL", "SR"),
    "7.1": ("FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR"),
    "7.1(wide)": ("FL", "FR", "FC", "LFE", "BL", "BR", "FLC", "FRC"),
    "7.1(wide-side)": ("FL", "FR", "FC", "LFE", "FLC", "FRC", "SL", "SR"),
    "octagonal": ("FL", "FR", "FC", "BL", "BR", "BC", "SL", "SR"),
    "downmix": ("DL", "DR"),
    "5.1.2": ("FL", "FR", "FC", "LFE", "SL", "SR", "TFL", "TFR"),
    "5.1.4": ("FL", "FR", "FC", "LFE", "SL", "SR", "TFL", "TFR", "TBL", "TBR"),
    "7.1.2": ("FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR", "TFL", "TFR"),
    "7.1.4": ("FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR", "TFL", "TFR", "TBL", "TBR"),
}

# What FFmpeg assumes for an unnamed layout ("6 channels") - av_channel_layout_default().
DEFAULT_LAYOUT_FOR_COUNT: dict[int, str] = {
    1: "mono",
    2: "stereo",
    3: "2.1",
    4: "4.0",
    5: "5.0",
    6: "5.1",
    7: "6.1",
    8: "7.1",
}

_EXCLUDED = frozenset({"LFE", "LFE2"})  # low-frequency effects: not part of the measurement
_SURROUND = frozenset({"BL", "BC", "BR", "TBL", "TBC", "TBR", "SL", "SR", "SDL", "SDR"})
SURROUND_WEIGHT = 1.41  # BS.1770-4 table 3 (+1.5 dB)

_UNNAMED = re.compile(r"^(\d+) channels?$")


def layout_channel_names(layout: str, n_channels: int) -> tuple[str, ...]:
    """FFmpeg channel names, in order, for `layout` holding `n_channels` channels.

    Accepts FFmpeg's layout names, its "N channels" spelling for an unnamed layout (mapped
    like FFmpeg to the default layout for N), or an explicit "FL+FR+LFE" list. Raises
    ValueError when the layout is unknown or does not have `n_channels` channels.
    """
    name = layout.strip()
    unnamed = _UNNAMED.match(name)
    if unnamed and int(unnamed.group(1)) in DEFAULT_LAYOUT_FOR_COUNT:
        name = DEFAULT_LAYOUT_FOR_COUNT[int(unnamed.group(1))]
    if name in LAYOUT_CHANNELS:
        channels = LAYOUT_CHANNELS[name]
    elif "+" in name:
        channels = tuple(part.strip().upper() for part in name.split("+"))
    else:
        raise ValueError(f"unknown channel layout {layout!r}")
    if len(channels) != n_channels:
        raise ValueError(
            f"channel layout {layout!r} has {len(channels)} channels, the audio has {n_channels}"
        )
    return channels


def channel_weights(layout: str, n_channels: int) -> np.ndarray:
    """BS.1770-4 weight per channel (float64 [n_channels]): 1.0, 1.41 surround, 0.0 LFE."""
    names = layout_channel_names(layout, n_channels)
    return np.array(
        [0.0 if c in _EXCLUDED else SURROUND_WEIGHT if c in _SURROUND else 1.0 for c in names],
        dtype=np.float64,
    )
