"""Branches of the cut detector that the edits elsewhere do not reach (issue 32):

* a flash made of a *different* picture (two frames of a bright flare: the structure
  changes, so the change is a hard-cut candidate and only the flash test, `_is_flash`,
  can reject it when the picture comes back);
* a short dim fade at a cut at a low frame rate: no frame is flat, only the two frames
  around the jump are dim (`_hard_or_fade` reports it as one gradual transition).

Each test fails when its branch is switched off (checked by hand: `_is_flash` forced to
return False gives two cuts at the flash; the dim-fade branch removed gives a hard cut).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dp_features.visual.cut_detection import detect_cuts

pytestmark = pytest.mark.accuracy

H, W = 96, 160


def _picture(seed: int) -> np.ndarray:
    """A smooth random colour picture (float32 [H, W, 3], 0..255)."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (6, 10, 3)).astype(np.float32)
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC).clip(0, 255)


def _shot(picture: np.ndarray, n: int, seed: int, pan_px: float = 0.3) -> list[np.ndarray]:
    """A slowly panning shot of `picture` with sensor noise."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        m = np.array([[1.0, 0.0, -pan_px * i], [0.0, 1.0, 0.0]], np.float32)
        frame = cv2.warpAffine(picture, m, (W, H), borderMode=cv2.BORDER_REFLECT)
        out.append((frame + rng.normal(0, 1.5, frame.shape)).clip(0, 255).astype(np.uint8))
    return out


def _glare(frame: np.ndarray, cx: float, cy: float) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    g = np.exp(-(((xx - cx) / (0.3 * W)) ** 2 + ((yy - cy) / (0.3 * H)) ** 2))[..., None]
    return (frame * (1 - 0.9 * g) + 255 * 0.9 * g + 60).clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("flash_frames", [1, 2])
def test_a_flash_of_a_different_picture_is_no_cut(flash_frames):
    fps = 25.0
    frames = _shot(_picture(1), 60, seed=2)
    for i in range(30, 30 + flash_frames):
        frames[i] = _glare(frames[i], 0.75 * W, 0.3 * H)
    times = np.arange(len(frames)) / fps
    result = detect_cuts(np.stack(frames), times)
    assert len(result.cut_times_s) == 0, result.cut_times_s


def test_a_real_cut_next_to_a_flash_is_still_found():
    # The flash test needs the picture to come back: a cut whose new shot stays is a cut
    # even with a flash just before it.
    fps = 25.0
    frames = _shot(_picture(1), 40, seed=2) + _shot(_picture(5), 40, seed=3)
    frames[30] = _glare(frames[30], 0.3 * W, 0.6 * H)
    times = np.arange(len(frames)) / fps
    result = detect_cuts(np.stack(frames), times)
    assert len(result.cut_times_s) == 1, result.cut_times_s
    assert abs(result.cut_times_s[0] - 40 / fps) < 1e-6
    assert result.cut_kinds[0] == "hard"


def test_a_short_dim_fade_at_a_cut_is_one_gradual_transition():
    # 8 fps: the fade out is two frames (30 %, 12 % of the picture), the fade in the same;
    # no frame is flat (contrast stays above `flat_std`), so only the dim-fade branch of
    # the hard-cut test can see a fade here.
    fps = 8.0
    a = _shot(_picture(7), 20, seed=4)
    b = _shot(_picture(8), 20, seed=5)
    fade_out = [(a[-1] * g).astype(np.uint8) for g in (0.3, 0.12)]
    fade_in = [(b[0] * g).astype(np.uint8) for g in (0.12, 0.3)]
    frames = np.stack(a + fade_out + fade_in + b)
    times = np.arange(len(frames)) / fps
    result = detect_cuts(frames, times)
    assert len(result.cut_times_s) == 1, (result.cut_times_s, result.cut_kinds)
    assert result.cut_kinds[0] == "gradual", result.cut_kinds
    start, end = result.transition_span_s[0]
    # The span runs from the last frame of A (19) to the first of B (24): the four fading
    # frames between them; the cut is at the middle of the jump (between 21 and 22).
    assert (start, end) == (times[19], times[24]), (start, end)
    assert result.cut_times_s[0] == 0.5 * (times[21] + times[22])


def test_a_cut_between_two_bright_low_texture_shots_is_not_a_flash(sample_clips, tmp_path):
    # Real washed-out pictures (opencv-doc's tree.avi, then its leuvenB photograph, both at
    # 30 % contrast near white): after the flash test's motion compensation the two look
    # alike (0.26 < 0.35), so the flash test only looks for the old picture after a jump
    # back - and there is none at a cut. (Without that rule this cut was taken for a flash.)
    from dp_resources.models.registry import model_folder
    from tests.accuracy.visual import broad_cut_set as broad

    photos = next(iter(sample_clips.values())).parent / "cut_photos"  # samples/cut_photos
    paths = broad.source_paths(sample_clips, model_folder("transnetv2"), photos)
    bright = (broad.Look("bright"),)
    edit = broad.Edit(
        "bright-cut",
        (
            broad.Shot(broad.Footage("tree", 0, 45), bright),
            broad.Join("hard", label="hard-bright"),
            broad.Shot(broad.Still("leuvenB", 45), bright),
        ),
    )
    [clip] = broad.load_clips((edit,), broad.Sources(paths), tmp_path)
    result = detect_cuts(clip.frames, clip.times_s, clip.duration_s)
    assert len(result.cut_times_s) == 1, result.cut_times_s
    assert abs(result.cut_times_s[0] - clip.times_s[45]) < 1e-6
