"""CLIP and MiDaS input tensors against values computed by hand: normalisation constants,
resize / centre-crop geometry (marked pixels land where the arithmetic says), and the
antialiasing of CLIP's shrinking bicubic."""

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.model_inputs import (
    CLIP_MEAN,
    CLIP_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    centre_crop_offset,
    clip_pixels,
    midas_pixels,
    shortest_side_size,
)

pytestmark = pytest.mark.unit

COLOUR = (255, 128, 0)


def constant_frames(height, width, colour=COLOUR, n=2):
    return np.broadcast_to(np.array(colour, np.uint8), (n, height, width, 3)).copy()


def grey_levels(pixels, mean, std):
    """Undo the normalisation: 0..255 grey levels [n, H, W, 3]."""
    values = pixels.transpose(0, 2, 3, 1) * np.array(std) + np.array(mean)
    return values * 255.0


def centroid(mask):
    rows, cols = np.nonzero(mask)
    return rows.mean(), cols.mean()


@pytest.mark.parametrize(("height", "width"), [(224, 224), (48, 64), (720, 1280), (333, 101)])
def test_a_constant_frame_normalises_to_the_computed_clip_values(height, width):
    pixels = clip_pixels(constant_frames(height, width))
    assert pixels.shape == (2, 3, 224, 224) and pixels.dtype == np.float32
    expected = [(1.0 - 0.48145466) / 0.26862954, (128 / 255 - 0.4578275) / 0.26130258]
    expected.append((0.0 - 0.40821073) / 0.27577711)
    for channel, value in enumerate(expected):
        np.testing.assert_allclose(pixels[:, channel], value, rtol=1e-6)


@pytest.mark.parametrize(("height", "width"), [(256, 256), (48, 64), (720, 1280)])
def test_a_constant_frame_normalises_to_the_computed_midas_values(height, width):
    pixels = midas_pixels(constant_frames(height, width))
    assert pixels.shape == (2, 3, 256, 256) and pixels.dtype == np.float32
    expected = [(1.0 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (0.0 - 0.406) / 0.225]
    for channel, value in enumerate(expected):
        np.testing.assert_allclose(pixels[:, channel], value, rtol=1e-5)


@pytest.mark.parametrize(
    ("frame_size", "resized"),
    [
        ((360, 640), (224, 398)),  # int(224 * 640 / 360) = 398 (truncated)
        ((640, 360), (398, 224)),
        ((224, 449), (224, 449)),  # already 224 on the short side: no resize
        ((100, 100), (224, 224)),  # enlarged
        ((1080, 1920), (224, 398)),
    ],
)
def test_shortest_side_size(frame_size, resized):
    assert shortest_side_size(*frame_size, 224) == resized


def test_centre_crop_offset_rounds_half_to_even_as_torchvision():
    assert centre_crop_offset(398, 224) == 87
    assert centre_crop_offset(225, 224) == 0  # round(0.5) = 0
    assert centre_crop_offset(227, 224) == 2  # round(1.5) = 2
    assert centre_crop_offset(224, 224) == 0


def test_centre_crop_keeps_the_middle_of_a_wide_frame():
    """448 x 224: no resize; the left and right quarters (red, blue) are cropped away and
    exactly the green middle half remains."""
    frame = np.zeros((1, 224, 448, 3), np.uint8)
    frame[:, :, :112] = (255, 0, 0)
    frame[:, :, 112:336] = (0, 255, 0)
    frame[:, :, 336:] = (0, 0, 255)
    levels = grey_levels(clip_pixels(frame), CLIP_MEAN, CLIP_STD)
    np.testing.assert_allclose(levels[0, ..., 1], 255.0, atol=1e-3)
    np.testing.assert_allclose(levels[0, ..., [0, 2]], 0.0, atol=1e-3)


@pytest.mark.parametrize("portrait", [False, True])
def test_marked_points_land_where_resize_and_crop_put_them(portrait):
    """640 x 360 (and its transpose): a white square at the centre and one off-centre.
    Resized to 398 x 224 and cropped from x = 87, the centre lands at the crop's centre
    and the other at (x, y) * 224 / 360 - (87, 0)."""
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[170:190, 310:330] = 255  # centre (180, 320) in pixel-centre coordinates
    frame[90:110, 390:410] = 255  # centre (100, 400)
    if portrait:
        frame = frame.transpose(1, 0, 2)
    levels = grey_levels(clip_pixels(frame[None]), CLIP_MEAN, CLIP_STD)[0].mean(axis=2)
    if portrait:
        levels = levels.T
    scale = 398 / 640  # = 224 / 360 up to the truncation of 398.2
    bright = levels > 127
    centre_half = bright[:, 80:144]
    row, col = centroid(centre_half)
    assert row == pytest.approx(111.5, abs=0.3) and col + 80 == pytest.approx(111.5, abs=0.3)
    row, col = centroid(bright[:, 144:])
    assert row == pytest.approx(100 * 224 / 360 - 0.5, abs=0.5)
    assert col + 144 == pytest.approx(400 * scale - 87 - 0.5, abs=0.5)


def test_clip_shrinks_with_an_antialiased_bicubic():
    """Columns alternating white, black, black shrunk ~4x: an antialiased filter gives the
    average (255 / 3) everywhere; a plain bicubic (OpenCV's INTER_CUBIC) samples the
    stripes and gives values from 0 to 255."""
    frame = np.zeros((1, 900, 900, 3), np.uint8)
    frame[:, :, ::3] = 255
    levels = grey_levels(clip_pixels(frame), CLIP_MEAN, CLIP_STD)
    assert levels.mean() == pytest.approx(255 / 3, abs=1.0)
    assert np.abs(levels - 255 / 3).max() < 16


def test_midas_stretches_to_256_without_keeping_the_aspect_ratio():
    """640 x 480, left half red, right half blue: stretched to 256 wide, the halves meet at
    column 128; a marked block at (x, y) lands at (x * 256 / 640, y * 256 / 480)."""
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, :320, 0] = 255
    frame[:, 320:, 2] = 255
    frame[300:340, 500:540] = 255  # centre (320, 520)
    levels = grey_levels(midas_pixels(frame[None]), IMAGENET_MEAN, IMAGENET_STD)[0]
    assert (levels[:, :124, 0] > 250).all() and (levels[:, :124, 2] < 5).all()
    assert (levels[:, 132:, 2] > 250).all()
    row, col = centroid(levels[..., 1] > 127)
    assert row == pytest.approx(320 * 256 / 480 - 0.5, abs=0.5)
    assert col == pytest.approx(520 * 256 / 640 - 0.5, abs=0.5)


@pytest.mark.parametrize(
    "frames",
    [
        np.zeros((2, 32, 32, 3), np.float32),  # not uint8
        np.zeros((32, 32, 3), np.uint8),  # one frame without the batch axis
        np.zeros((2, 32, 32, 4), np.uint8),  # RGBA
        np.zeros((2, 0, 32, 3), np.uint8),
    ],
)
def test_wrong_frames_are_refused(frames):
    for preprocess in (clip_pixels, midas_pixels):
        with pytest.raises(DpError) as info:
            preprocess(frames)
        assert info.value.code is ErrorCode.INTERNAL


def test_no_frames_give_empty_tensors():
    assert clip_pixels(np.zeros((0, 10, 10, 3), np.uint8)).shape == (0, 3, 224, 224)
    assert midas_pixels(np.zeros((0, 10, 10, 3), np.uint8)).shape == (0, 3, 256, 256)
