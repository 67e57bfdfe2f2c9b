"""The inputs of the cut detectors: letterbox / pillar-box bars found and cropped, and
TransNetV2's 48x27 thumbnails and published windowing (100 frames, stride 50, middle 50)."""

from __future__ import annotations

import numpy as np
import pytest

from dp_features.visual.cut_detection import CutDetectionConfig, picture_box
from dp_features.visual.transnet_windows import (
    probabilities_around,
    transnet_thumbnails,
    window_probabilities,
)

pytestmark = pytest.mark.unit


def _textured(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(40, 255, (n, height, width, 3), dtype=np.uint8)


def test_pillar_box_bars_are_found_and_only_them():
    frames = _textured(8, 90, 160)
    frames[:, :, :20] = 3  # black bars with a little noise, as in an encoded video
    frames[:, :, 140:] = 0
    frames[0, 5, 3] = 30
    rows, cols = picture_box(frames, CutDetectionConfig())
    assert (rows, cols) == (slice(0, 90), slice(20, 140))


def test_letterbox_bars_are_found():
    frames = _textured(4, 96, 160)
    frames[:, :12] = 0
    frames[:, 84:] = 0
    rows, cols = picture_box(frames, CutDetectionConfig())
    assert (rows, cols) == (slice(12, 84), slice(0, 160))


def test_a_dark_picture_is_not_cropped_away():
    """A black intro (or a dark scene) is not bars: no crop that leaves under half a side."""
    frames = np.zeros((6, 90, 160, 3), np.uint8)
    frames[:, 40:50, 70:80] = 200  # a small bright spot in the middle
    assert picture_box(frames, CutDetectionConfig()) == (slice(0, 90), slice(0, 160))


def test_thumbnails_are_area_means_at_48x27():
    frames = np.zeros((2, 54, 96, 3), np.uint8)
    frames[0, :, :48] = 200  # left half bright in frame 0
    thumbs = transnet_thumbnails(frames)
    assert thumbs.shape == (2, 27, 48, 3) and thumbs.dtype == np.uint8
    assert (thumbs[0, :, :24] == 200).all() and (thumbs[0, :, 24:] == 0).all()
    assert (thumbs[1] == 0).all()
    odd = transnet_thumbnails(_textured(3, 90, 160))  # not a whole multiple of 27 rows
    assert odd.shape == (3, 27, 48, 3)


def _frame_id_runner(calls: list):
    """A stand-in for the model whose 'probability' of each input frame is that frame's
    id (stored in its pixels), so the windowing must hand every frame its own value."""

    def run(windows: np.ndarray):
        calls.append(windows.shape)
        ids = windows[:, :, 0, 0, 0].astype(np.float32) + 256.0 * windows[:, :, 0, 0, 1]
        return ids, -ids

    return run


def _id_frames(n: int) -> np.ndarray:
    frames = np.zeros((n, 27, 48, 3), np.uint8)
    frames[:, 0, 0, 0] = np.arange(n) % 256
    frames[:, 0, 0, 1] = np.arange(n) // 256
    return frames


@pytest.mark.parametrize("n", [1, 49, 50, 51, 137, 300])
def test_windows_give_every_frame_its_own_output(n):
    calls: list = []
    single, many = window_probabilities(_frame_id_runner(calls), _id_frames(n), batch_windows=2)
    assert np.array_equal(single, np.arange(n, dtype=np.float32))
    assert np.array_equal(many, -np.arange(n, dtype=np.float32))
    assert all(shape[1] == 100 for shape in calls)  # always the published window length
    assert sum(shape[0] for shape in calls) == -(-n // 50)  # one window per 50 frames


def test_windows_around_spans_return_the_span_frames_with_replicated_edges():
    calls: list = []
    frames = _id_frames(40)
    answers = probabilities_around(_frame_id_runner(calls), frames, [(0, 3), (10, 13), (37, 40)], 5)
    assert [a[0].tolist() for a in answers] == [[0, 1, 2], [10, 11, 12], [37, 38, 39]]
    assert calls == [(3, 13, 27, 48, 3)]  # equal lengths: one batch
