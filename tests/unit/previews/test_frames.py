"""Boxes drawn where they are on the frames that have the most of them."""

import io

import numpy as np
import pytest
from PIL import Image

from dp_features.previews import annotated_frames, frames_with_most_boxes
from dp_features.previews.canvas import MAX_BYTES, PREVIEW_WIDTH
from dp_features.previews.frames import GAP

pytestmark = pytest.mark.unit


def is_green(rgb):
    return (rgb[..., 1] > 160) & (rgb[..., 0] < 110) & (rgb[..., 2] < 150)


def test_the_frame_with_most_boxes_of_each_part_of_the_video_is_chosen():
    # 8 frames; boxes: frame 1 has 2, frame 2 has 3, frame 6 has 1, frame 7 has 4
    box_frame = np.array([1, 1, 2, 2, 2, 6, 7, 7, 7, 7])
    assert list(frames_with_most_boxes(box_frame, 8, k=2)) == [2, 7]
    chosen = frames_with_most_boxes(box_frame, 8, k=4)  # parts [0,1] [2,3] [4,5] [6,7]
    assert list(chosen) == [1, 2, 4, 7]  # a part without boxes gives its first frame
    assert list(frames_with_most_boxes(np.zeros(0, int), 3, k=4)) == [0, 1, 2]
    assert len(frames_with_most_boxes(np.zeros(0, int), 0)) == 0


def test_a_box_is_outlined_at_its_normalised_position_with_its_label():
    frame = np.zeros((360, 640, 3), np.uint8)  # black: only the box is green
    box = np.array([[0.25, 0.5, 0.75, 0.9]])
    data = annotated_frames([frame], [12.0], [box], [["person 0.91"]])
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    assert pixels.shape[1] == PREVIEW_WIDTH and len(data) <= MAX_BYTES
    tile_width = PREVIEW_WIDTH - 2 * GAP
    scale = tile_width / 640
    left_x = GAP + round(0.25 * tile_width)
    bottom_y = GAP + round(0.9 * 360 * scale)
    middle_y = GAP + round(0.7 * 360 * scale)
    green_columns = np.flatnonzero(is_green(pixels[middle_y]))
    # the left and right edges of the box, and nothing else on that row
    assert green_columns.min() == pytest.approx(left_x, abs=2)
    assert green_columns.max() == pytest.approx(GAP + round(0.75 * tile_width), abs=2)
    assert len(green_columns) <= 8
    green_rows = np.flatnonzero(is_green(pixels[:, left_x + 40]))
    assert green_rows.max() == pytest.approx(bottom_y, abs=2)
    # the label's green text sits inside the box's top-left corner
    top_y = GAP + round(0.5 * 360 * scale)
    label = pixels[top_y + 4 : top_y + 14, left_x + 4 : left_x + 60]
    assert is_green(label).sum() > 20
