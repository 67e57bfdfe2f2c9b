"""The contact sheet of `cut_detection`: one frame per shot, how each shot begins (hard cut
or gradual transition), and a strip of the whole video with every cut at its time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from dp_features.previews.canvas import (
    BACKGROUND,
    GRADUAL_CUT,
    GRID,
    HARD_CUT,
    INK,
    PREVIEW_WIDTH,
    TimeAxis,
    encode_jpeg,
    fit_width,
    font,
    format_time,
)

MAX_TILES = 12
COLUMNS = 4
GAP = 8
TITLE_HEIGHT = 22
LABEL_HEIGHT = 16
STRIP_HEIGHT = 28  # the whole-video strip under the tiles
STRIP_AXIS = TimeAxis(0.0, GAP, PREVIEW_WIDTH - 2 * GAP)  # duration set per video
TILE_WIDTH = (PREVIEW_WIDTH - (COLUMNS + 1) * GAP) // COLUMNS
CUT_COLOURS = {"hard": HARD_CUT, "gradual": GRADUAL_CUT}


def shots_shown(n_shots: int, max_tiles: int = MAX_TILES) -> np.ndarray:
    """Indices of the shots that get a tile: all of them, or `max_tiles` spread evenly."""
    if n_shots <= max_tiles:
        return np.arange(n_shots)
    return np.unique(np.linspace(0, n_shots - 1, max_tiles).round().astype(np.int64))


def strip_axis(duration_s: float) -> TimeAxis:
    """Where the strip puts each second (tests read cut markers back through it)."""
    return TimeAxis(duration_s, STRIP_AXIS.left, STRIP_AXIS.width)


def contact_sheet(
    thumbnails: Sequence[np.ndarray],
    shown: np.ndarray,
    shot_bounds_s: np.ndarray,
    cut_times_s: np.ndarray,
    cut_kinds: np.ndarray,
    duration_s: float,
) -> bytes:
    """JPEG: a tile per shown shot (`thumbnails[i]`: RGB uint8 frame from inside shot
    `shown[i]`, any size) labelled with its number and span, its left edge coloured by how it
    begins (red: hard cut, orange: gradual); under them the video's strip (seconds)."""
    bounds = np.asarray(shot_bounds_s, np.float64).reshape(-1, 2)
    cuts = np.asarray(cut_times_s, np.float64)
    kinds = [str(k) for k in np.asarray(cut_kinds).ravel()]
    tiles = [fit_width(frame, TILE_WIDTH) for frame in thumbnails]
    tile_height = max((t.height for t in tiles), default=0)
    rows = -(-len(tiles) // COLUMNS)
    grid_height = rows * (tile_height + LABEL_HEIGHT + GAP)
    height = TITLE_HEIGHT + grid_height + STRIP_HEIGHT + 18
    sheet = Image.new("RGB", (PREVIEW_WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    hard = sum(k == "hard" for k in kinds)
    title = (
        f"{_count(len(bounds), 'shot')} · {_count(hard, 'hard cut')} · "
        f"{_count(len(kinds) - hard, 'gradual transition')}"
    )
    if len(tiles) < len(bounds):
        title += f" · {len(tiles)} shots shown"
    draw.text((GAP, 4), title, fill=INK, font=font(13))
    for i, (tile, shot) in enumerate(zip(tiles, np.asarray(shown).ravel(), strict=True)):
        left = GAP + (i % COLUMNS) * (TILE_WIDTH + GAP)
        top = TITLE_HEIGHT + (i // COLUMNS) * (tile_height + LABEL_HEIGHT + GAP)
        sheet.paste(tile, (left, top))
        start, end = bounds[shot]
        kind = _kind_starting_at(start, cuts, kinds)
        if kind:
            draw.rectangle([left, top, left + 4, top + tile.height - 1], fill=CUT_COLOURS[kind])
        label = f"#{shot + 1}  {format_time(start)} - {format_time(end)}"
        draw.text((left, top + tile.height + 2), label, fill=INK, font=font(11))
    _draw_strip(draw, TITLE_HEIGHT + grid_height, bounds, cuts, kinds, duration_s)
    return encode_jpeg(sheet)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _kind_starting_at(start_s: float, cuts: np.ndarray, kinds: list[str]) -> str | None:
    """The kind of the cut a shot begins with (shots are split exactly at cut times)."""
    if cuts.size == 0:
        return None
    nearest = int(np.argmin(np.abs(cuts - start_s)))
    return kinds[nearest] if abs(cuts[nearest] - start_s) < 1e-3 else None


def _draw_strip(draw, top, bounds, cuts, kinds, duration_s) -> None:
    axis = strip_axis(duration_s)
    bottom = top + STRIP_HEIGHT
    for i, (start, end) in enumerate(bounds):
        shade = (200, 200, 200) if i % 2 else (235, 235, 235)
        draw.rectangle([axis.x(start), top, axis.x(end), bottom], fill=shade)
    axis.draw_ticks(draw, bottom, bottom)
    draw.rectangle([axis.left, top, axis.left + axis.width - 1, bottom], outline=GRID)
    for t, kind in zip(cuts, kinds, strict=True):
        x = axis.x(t)
        draw.rectangle([x - 1, top, x + 1, bottom], fill=CUT_COLOURS.get(kind, HARD_CUT))
