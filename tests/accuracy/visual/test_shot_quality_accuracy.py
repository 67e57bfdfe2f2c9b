"""Shot quality metrics respond to known changes of blur, exposure, noise and colour."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dp_features.visual.cut_detection import detect_cuts
from dp_features.visual.shot_quality import frame_quality, shot_quality

from .synthetic_clips import ClipSpec, ShotSpec, cfr_times, render_clip, textured_canvas

pytestmark = pytest.mark.accuracy


def _picture(seed: int = 0) -> np.ndarray:
    """A 360x640 textured RGB frame, float32 0..255."""
    canvas = textured_canvas(np.random.default_rng(seed), 90, 160)
    return cv2.resize(canvas, (640, 360), interpolation=cv2.INTER_CUBIC)


def _u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def test_blurring_lowers_sharpness():
    img = _picture()
    stack = np.stack([_u8(img)] + [_u8(cv2.GaussianBlur(img, (0, 0), s)) for s in (1, 2, 4)])
    sharpness = frame_quality(stack).sharpness
    assert np.all(np.diff(sharpness) < 0), sharpness


def test_brightening_raises_exposure_and_clipping():
    img = _picture(1)
    stack = np.stack([_u8(img * g) for g in (0.3, 0.6, 1.0, 1.5, 2.5)])
    q = frame_quality(stack)
    assert np.all(np.diff(q.brightness) > 0)
    assert np.all(np.diff(q.bright_clip_ratio) >= 0) and q.bright_clip_ratio[-1] > 0.3
    assert np.all(np.diff(q.dark_clip_ratio) <= 0) and q.dark_clip_ratio[0] > q.dark_clip_ratio[2]


def test_contrast_is_luma_std():
    rng = np.random.default_rng(0)
    grey = np.clip(rng.normal(128, 20, (1, 90, 160)), 0, 255).astype(np.uint8)
    frame = np.repeat(grey[..., None], 3, axis=3)
    assert frame_quality(frame).contrast[0] == pytest.approx(grey.std() / 255, rel=0.01)


@pytest.mark.parametrize("sigma", [2.0, 5.0, 10.0])
def test_noise_estimate_matches_added_gaussian_noise(sigma):
    # A smooth picture (Immerkær's mask cancels smooth structure) in mid-grey, so that
    # the noise is neither clipped nor hidden.
    img = cv2.GaussianBlur(_picture(2), (0, 0), 6) * 0.5 + 64
    rng = np.random.default_rng(int(sigma))
    noisy = _u8(img + rng.normal(0, sigma, img.shape).astype(np.float32))
    estimate = frame_quality(noisy[None]).noise_sigma[0]
    # Noise in each channel is independent; luma averages them with weights summing to 1,
    # so its std is sigma * sqrt(0.299^2 + 0.587^2 + 0.114^2).
    expected = sigma * np.sqrt(0.299**2 + 0.587**2 + 0.114**2)
    assert estimate == pytest.approx(expected, rel=0.15)


def test_noise_free_smooth_picture_has_little_noise():
    img = cv2.GaussianBlur(_picture(2), (0, 0), 6)
    assert frame_quality(_u8(img)[None]).noise_sigma[0] < 0.5


def test_grey_picture_has_no_colourfulness_and_colour_has_some():
    grey = cv2.cvtColor(_u8(_picture(3)), cv2.COLOR_RGB2GRAY)
    grey_rgb = np.repeat(grey[..., None], 3, axis=2)
    colourful = np.zeros((90, 160, 3), np.uint8)
    colourful[:, :80] = (255, 0, 0)
    colourful[:, 80:] = (0, 0, 255)
    q = frame_quality(np.stack([grey_rgb, cv2.resize(colourful, (640, 360))]))
    assert q.colourfulness[0] == pytest.approx(0.0, abs=1e-3)
    assert q.colourfulness[1] > 100  # "extremely colourful" on Hasler & Süsstrunk's scale


def test_per_shot_quality_follows_the_shots():
    # Shot 1 sharp, shot 2 blurred and darker: cut detection splits them, and the shot
    # medians keep the difference.
    spec = ClipSpec(shots=(ShotSpec(2.0), ShotSpec(2.0)), joins=(("hard", 0.0),), seed=5)
    clip = render_clip(spec, cfr_times(4.0, 25.0))
    frames = clip.frames.copy()
    second = clip.times_s >= 2.0
    frames[second] = np.stack(
        [_u8(cv2.GaussianBlur(f.astype(np.float32), (0, 0), 2) * 0.6) for f in frames[second]]
    )
    cuts = detect_cuts(frames, clip.times_s, clip.duration_s)
    assert len(cuts.shot_bounds_s) == 2
    analysis = np.arange(0, len(frames), 12)  # ~2 fps analysis frames
    quality = frame_quality(frames[analysis])
    shots = shot_quality(clip.times_s[analysis], quality, cuts.shot_bounds_s)
    assert shots.frame_count.tolist() == [5, 4]
    assert shots.metrics["sharpness"][0] > 2 * shots.metrics["sharpness"][1]
    assert shots.metrics["brightness"][0] > shots.metrics["brightness"][1]
