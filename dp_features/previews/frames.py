"""Detections drawn on a few sampled frames: object boxes with class and score, face boxes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from dp_features.previews.canvas import (
    BACKGROUND,
    INK,
    PREVIEW_WIDTH,
    encode_jpeg,
    fit_width,
    font,
    format_time,
)

MAX_FRAMES = 4
GAP = 6
LABEL_HEIGHT = 16
BOX_COLOUR = (0, 230, 90)


def frames_with_most_boxes(box_frame: np.ndarray, n_frames: int, k: int = MAX_FRAMES) -> np.ndarray:
    """Up to `k` frame indices, in time order: the frames with the most boxes (ties: the
    earlier frame), spread over the video by taking the best frame of each of `k` equal
    parts; with no box at all, `k` frames evenly spaced."""
    if n_frames <= 0:
        return np.zeros(0, np.int64)
    counts = np.bincount(np.asarray(box_frame, np.int64).ravel(), minlength=n_frames)[:n_frames]
    parts = np.array_split(np.arange(n_frames), min(k, n_frames))
    return np.array([part[int(np.argmax(counts[part]))] for part in parts], np.int64)


def annotated_frames(
    frames: Sequence[np.ndarray],
    times_s: Sequence[float],
    boxes: Sequence[np.ndarray],
    labels: Sequence[Sequence[str]],
) -> bytes:
    """JPEG: the frames side by side (RGB uint8, any size), each with its boxes (`boxes[i]`
    float [k, 4] x0, y0, x1, y1 normalised 0..1 to the frame) outlined and labelled
    (`labels[i][j]`), and its time and box count under it."""
    n = len(frames)
    tile_width = (PREVIEW_WIDTH - (n + 1) * GAP) // max(n, 1)
    tiles = [fit_width(frame, tile_width) for frame in frames]
    tile_height = max((t.height for t in tiles), default=0)
    sheet = Image.new("RGB", (PREVIEW_WIDTH, tile_height + LABEL_HEIGHT + 2 * GAP), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for i, tile in enumerate(tiles):
        left = GAP + i * (tile_width + GAP)
        sheet.paste(tile, (left, GAP))
        frame_boxes = np.asarray(boxes[i], np.float64).reshape(-1, 4)
        scale = np.array([tile.width, tile.height, tile.width, tile.height])
        for box, label in zip(frame_boxes * scale, labels[i], strict=True):
            x0, y0, x1, y1 = box + np.array([left, GAP, left, GAP])
            draw.rectangle([x0, y0, x1, y1], outline=BOX_COLOUR, width=2)
            if label:  # on a dark patch: readable on any picture
                text_box = draw.textbbox((x0 + 3, y0 + 2), label, font=font(11))
                draw.rectangle(text_box, fill=(0, 0, 0))
                draw.text((x0 + 3, y0 + 2), label, fill=BOX_COLOUR, font=font(11))
        caption = f"{format_time(times_s[i])} · {len(frame_boxes)} box(es)"
        draw.text((left, GAP + tile.height + 2), caption, fill=INK, font=font(11))
    return encode_jpeg(sheet)
