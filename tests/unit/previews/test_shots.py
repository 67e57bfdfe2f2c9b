"""The contact sheet: cut markers at their times on the strip, tiles marked by how their
shot begins, sizes within budget."""

import io

import numpy as np
import pytest
from PIL import Image

from dp_features.previews import contact_sheet, shots_shown
from dp_features.previews.canvas import MAX_BYTES, PREVIEW_WIDTH
from dp_features.previews.shots import COLUMNS, GAP, STRIP_HEIGHT, TITLE_HEIGHT, strip_axis
from dp_features.visual.cut_detection import shot_bounds_from_cuts

pytestmark = pytest.mark.unit

DURATION_S = 60.0
CUTS = np.array([5.0, 12.5, 20.0, 31.0, 44.0])
KINDS = np.array(["hard", "gradual", "hard", "hard", "gradual"])


def is_red(rgb):
    return (rgb[..., 0] > 170) & (rgb[..., 1] < 100) & (rgb[..., 2] < 100)


def is_orange(rgb):
    return (rgb[..., 0] > 200) & (rgb[..., 1] > 100) & (rgb[..., 1] < 200) & (rgb[..., 2] < 90)


def run_centres(mask: np.ndarray) -> list[float]:
    """Centres of the runs of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return [(a + b - 1) / 2 for a, b in zip(edges[::2], edges[1::2], strict=True)]


def sheet(thumbnail_size=(360, 640), cuts=CUTS, kinds=KINDS):
    bounds = shot_bounds_from_cuts(cuts, DURATION_S)
    shown = shots_shown(len(bounds))
    # grey frames: nothing in them is red or orange
    thumbnails = [np.full((*thumbnail_size, 3), 30 * i % 255, np.uint8) for i in shown]
    data = contact_sheet(thumbnails, shown, bounds, cuts, kinds, DURATION_S)
    return data, np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def test_each_cut_is_marked_on_the_strip_at_its_time_in_its_kinds_colour():
    _, pixels = sheet()
    strip_row = pixels[pixels.shape[0] - 18 - STRIP_HEIGHT // 2]
    axis = strip_axis(DURATION_S)
    hard = run_centres(is_red(strip_row))
    gradual = run_centres(is_orange(strip_row))
    assert hard == pytest.approx([axis.x(t) for t in CUTS[KINDS == "hard"]], abs=1)
    assert gradual == pytest.approx([axis.x(t) for t in CUTS[KINDS == "gradual"]], abs=1)
    # 20 s of 60 s lies a third of the way along the strip
    assert axis.x(20.0) == pytest.approx(axis.left + (axis.width - 1) / 3, abs=1)


def test_a_tile_edge_says_how_its_shot_began():
    data, pixels = sheet()
    assert len(data) <= MAX_BYTES
    assert pixels.shape[1] == PREVIEW_WIDTH
    tile_width = (PREVIEW_WIDTH - (COLUMNS + 1) * GAP) // COLUMNS
    y = TITLE_HEIGHT + 20  # inside the first row of tiles
    edges = [pixels[y, GAP + i * (tile_width + GAP) + 2] for i in range(COLUMNS)]
    # shot 1 starts the video (no mark), 2 after a hard cut, 3 after a dissolve, 4 hard
    assert [bool(is_red(e)) for e in edges] == [False, True, False, True]
    assert [bool(is_orange(e)) for e in edges] == [False, False, True, False]


def test_many_shots_show_twelve_spread_over_the_video_including_first_and_last():
    shown = shots_shown(40)
    assert len(shown) == 12 and shown[0] == 0 and shown[-1] == 39
    assert np.all(np.diff(shown) > 0)
    assert list(shots_shown(5)) == [0, 1, 2, 3, 4]


def test_a_video_without_cuts_is_one_unmarked_shot():
    _, pixels = sheet(cuts=np.zeros(0), kinds=np.zeros(0, str))
    assert not is_red(pixels).any() and not is_orange(pixels).any()


def test_noisy_full_hd_frames_stay_within_the_byte_budget():
    bounds = shot_bounds_from_cuts(np.arange(1.0, 40.0, 1.0), DURATION_S)
    shown = shots_shown(len(bounds))
    rng = np.random.default_rng(0)
    thumbnails = [rng.integers(0, 255, (1080, 1920, 3), np.uint8) for _ in shown]
    kinds = np.array(["hard"] * 39)
    data = contact_sheet(thumbnails, shown, bounds, np.arange(1.0, 40.0), kinds, DURATION_S)
    assert data[:2] == b"\xff\xd8" and len(data) <= MAX_BYTES
