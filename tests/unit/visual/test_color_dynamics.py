"""Colour palette per shot and brightness dynamics against colours and ramps of known value."""

import numpy as np
import pytest

from dp_features.visual.color_dynamics import (
    COLOR_DYNAMICS_FEATURES,
    LUMA_WEIGHTS,
    bin_colors,
    color_dynamics,
    frame_colors,
)

pytestmark = pytest.mark.unit


def solid(rgb, n=1, size=(8, 12)):
    return np.broadcast_to(np.array(rgb, np.uint8), (n, *size, 3)).copy()


def test_solid_colours_give_their_published_luma_saturation_and_warmth():
    frames = np.concatenate([solid((255, 0, 0)), solid((0, 0, 255)), solid((128, 128, 128))])
    colors = frame_colors(frames)
    assert colors.brightness == pytest.approx([0.2126, 0.0722, 128 / 255], abs=1e-6)
    assert colors.saturation == pytest.approx([1.0, 1.0, 0.0], abs=1e-6)
    assert colors.warmth == pytest.approx([1.0, -1.0, 0.0], abs=1e-6)
    assert colors.histograms.sum(axis=1) == pytest.approx(1.0)


def test_half_and_half_frame_splits_its_histogram_in_two():
    frame = solid((255, 0, 0), size=(4, 8))
    frame[:, :, 4:] = (0, 255, 0)
    histogram = frame_colors(frame).histograms[0]
    nonzero = np.flatnonzero(histogram)
    assert len(nonzero) == 2 and histogram[nonzero] == pytest.approx([0.5, 0.5])
    assert {tuple(c) for c in bin_colors(8)[nonzero]} == {(240, 16, 16), (16, 240, 16)}


def test_each_shot_gets_its_own_palette_and_cuts_show_as_brightness_change():
    # shot 1: red for 2 s, shot 2: 70 % blue + 30 % white for 2 s, a frame every 0.5 s
    red = solid((250, 10, 10), 4, (10, 10))
    blue = solid((10, 10, 250), 4, (10, 10))
    blue[:, :3] = 255
    times = np.arange(8) * 0.5
    colors = frame_colors(np.concatenate([red, blue]))
    result = color_dynamics(times, colors, np.array([[0.0, 2.0], [2.0, 4.0]]), palette_size=3)
    assert tuple(result.shot_palette_rgb[0, 0]) == (240, 16, 16)
    assert result.shot_palette_share[0].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert tuple(result.shot_palette_rgb[1, 0]) == (16, 16, 240)
    assert tuple(result.shot_palette_rgb[1, 1]) == (240, 240, 240)
    assert result.shot_palette_share[1, :2].tolist() == pytest.approx([0.7, 0.3])
    assert result.palette_colors == 2
    # one brightness step at the cut, over 7 gaps of 0.5 s
    step = abs(colors.brightness[4] - colors.brightness[3])
    assert result.brightness_change_per_s == pytest.approx(step / 0.5 / 7)
    assert step > 0.05


def test_a_linear_fade_changes_brightness_at_its_rate():
    levels = np.linspace(0, 255, 11)  # black to white over 10 s
    frames = np.concatenate([solid((v, v, v)) for v in levels.round()])
    colors = frame_colors(frames)
    result = color_dynamics(np.arange(11.0), colors, np.array([[0.0, 10.0]]))
    assert result.brightness_change_per_s == pytest.approx(0.1, abs=0.003)
    assert colors.brightness == pytest.approx(levels.round() / 255 * LUMA_WEIGHTS.sum(), abs=1e-6)


def test_a_shot_without_frames_has_an_empty_palette_and_features_are_scalars():
    colors = frame_colors(solid((0, 200, 0), 2))
    result = color_dynamics(np.array([0.0, 0.5]), colors, np.array([[0.0, 1.0], [1.0, 3.0]]))
    assert result.shot_palette_share[1].sum() == 0 and result.palette_colors == 1
    row = COLOR_DYNAMICS_FEATURES.aggregate(result.as_arrays())
    assert set(row) == set(COLOR_DYNAMICS_FEATURES.columns)
    assert row["color_dynamics_brightness_change_per_s"] == 0.0
    assert row["color_dynamics_saturation_mean"] == pytest.approx(1.0)


def test_bad_frames_are_refused():
    with pytest.raises(ValueError, match="RGB frames"):
        frame_colors(np.zeros((2, 4, 4), np.uint8))
