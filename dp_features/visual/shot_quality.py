"""Technical picture quality per frame and per shot.

Input: uint8 RGB frames [N, H, W, 3] (the analysis frames, ~640 px, or any other size) and
their times in seconds. Every metric is computed for all frames of a chunk in a few
vectorised numpy/OpenCV calls (frames are stacked into one tall image; rows where a 3x3
filter would straddle two frames are left out), so it streams: call `frame_quality` per
chunk and concatenate.

Units (all per frame, luma is BT.601 on 0..255):
* `sharpness`: variance of the Laplacian of luma (grey levels^2). Depends on resolution and
  content; compare frames of one video, or shots, not absolute values across videos.
* `brightness`: mean luma / 255 (0 black .. 1 white).
* `dark_clip_ratio` / `bright_clip_ratio`: share of pixels with luma <= 16 / >= 239
  (crushed shadows / blown highlights; the limits of video-range luma).
* `contrast`: RMS contrast, std of luma / 255.
* `colourfulness`: Hasler & Süsstrunk (2003) M on 0..255 RGB (0 for grey; ~15 "slightly",
  ~33 "moderately", ~59 "quite", ~82 "highly", ~109 "extremely colourful").
* `noise_sigma`: Immerkær (1996) fast noise estimate, std of additive noise in grey levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dp_core.component_spec import FeatureSet
from dp_features.feature_stats import Arrays, finite_values, mean_or_nan, quantile_or_nan
from dp_features.visual.frame_chunks import rgb_frames

DARK_LUMA = 16
BRIGHT_LUMA = 239

# Immerkær's mask: the difference of two Laplacians, which cancels image structure up to
# second order and leaves (mostly) noise.
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)

FRAME_METRICS = (
    "sharpness",
    "brightness",
    "dark_clip_ratio",
    "bright_clip_ratio",
    "contrast",
    "colourfulness",
    "noise_sigma",
)


@dataclass(frozen=True)
class FrameQuality:
    """Per-frame metrics, float32 [N] each (see the module docstring for units)."""

    sharpness: np.ndarray
    brightness: np.ndarray
    dark_clip_ratio: np.ndarray
    bright_clip_ratio: np.ndarray
    contrast: np.ndarray
    colourfulness: np.ndarray
    noise_sigma: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in FRAME_METRICS}


@dataclass(frozen=True)
class ShotQuality:
    """Per-shot medians of the frame metrics: `shot_<metric>` float32 [S] (NaN for a shot
    with no analysed frame) and `shot_frame_count` int32 [S]."""

    shot_bounds_s: np.ndarray
    frame_count: np.ndarray
    metrics: dict[str, np.ndarray]

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"shot_bounds_s": self.shot_bounds_s, "shot_frame_count": self.frame_count}
        out.update({f"shot_{name}": values for name, values in self.metrics.items()})
        return out


def _stacked_filter(gray: np.ndarray, kernel: np.ndarray | None) -> np.ndarray:
    """3x3 filter of every frame of a stack [N, H, W] (float32), interior pixels only."""
    n, h, w = gray.shape
    if kernel is None:
        out = cv2.Laplacian(gray.reshape(n * h, w), cv2.CV_32F, ksize=1)
    else:
        out = cv2.filter2D(gray.reshape(n * h, w), cv2.CV_32F, kernel)
    return out.reshape(n, h, w)[:, 1:-1, 1:-1]


def frame_quality(frames: np.ndarray) -> FrameQuality:
    """Quality metrics of uint8 RGB frames [N, H, W, 3]; see the module docstring."""
    frames = rgb_frames(frames, "shot quality")
    n, h, w = frames.shape[:3]
    if n == 0 or h < 3 or w < 3:
        empty = np.full(n, np.nan, np.float32)
        return FrameQuality(*(empty.copy() for _ in FRAME_METRICS))
    luma8 = cv2.cvtColor(frames.reshape(n * h, w, 3), cv2.COLOR_RGB2GRAY).reshape(n, h, w)
    luma = luma8.astype(np.float32)

    sharpness = _stacked_filter(luma, None).reshape(n, -1).var(axis=1)
    flat = luma.reshape(n, -1)
    brightness = flat.mean(axis=1) / 255.0
    contrast = flat.std(axis=1) / 255.0
    dark = (luma8.reshape(n, -1) <= DARK_LUMA).mean(axis=1)
    bright = (luma8.reshape(n, -1) >= BRIGHT_LUMA).mean(axis=1)

    # Immerkær: sigma = sqrt(pi/2) / (6 (W-2)(H-2)) * sum |I * N|.
    response = np.abs(_stacked_filter(luma, _IMMERKAER)).reshape(n, -1)
    noise = np.sqrt(np.pi / 2.0) / 6.0 * response.mean(axis=1)

    rgb = frames.reshape(n, -1, 3).astype(np.float32)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    colourfulness = np.sqrt(rg.var(axis=1) + yb.var(axis=1)) + 0.3 * np.sqrt(
        rg.mean(axis=1) ** 2 + yb.mean(axis=1) ** 2
    )
    return FrameQuality(
        *(
            np.asarray(v, np.float32)
            for v in (sharpness, brightness, dark, bright, contrast, colourfulness, noise)
        )
    )


def shot_quality(
    frame_times_s: np.ndarray, quality: FrameQuality, shot_bounds_s: np.ndarray
) -> ShotQuality:
    """Median of each frame metric over the frames inside each shot [start, end) (seconds).

    The median, not the mean, so one flash or motion-blurred frame does not speak for a
    whole shot. A frame exactly at the video end belongs to the last shot.
    """
    times = np.asarray(frame_times_s, np.float64)
    bounds = np.asarray(shot_bounds_s, np.float64).reshape(-1, 2)
    n_shots = len(bounds)
    shot_of = np.full(len(times), -1, np.int64)
    if n_shots:
        shot_of = np.searchsorted(bounds[:, 0], times, side="right") - 1
        inside = (shot_of >= 0) & (
            (times < bounds[np.clip(shot_of, 0, None), 1])
            | ((shot_of == n_shots - 1) & (times <= bounds[-1, 1]))
        )
        shot_of = np.where(inside, shot_of, -1)
    counts = np.bincount(shot_of[shot_of >= 0], minlength=n_shots).astype(np.int32)
    metrics: dict[str, np.ndarray] = {}
    for name in FRAME_METRICS:
        values = getattr(quality, name)
        out = np.full(n_shots, np.nan, np.float32)
        for s in np.nonzero(counts)[0]:
            shot_values = values[shot_of == s]
            shot_values = shot_values[np.isfinite(shot_values)]
            if len(shot_values):
                out[s] = np.median(shot_values)
        metrics[name] = out
    return ShotQuality(bounds, counts[:n_shots], metrics)


def _features(a: Arrays) -> dict[str, float]:
    sharpness = finite_values(a, "sharpness")
    return {
        "shot_quality_sharpness_mean": mean_or_nan(sharpness),
        "shot_quality_sharpness_p10": quantile_or_nan(sharpness, 0.1),
        "shot_quality_brightness_mean": mean_or_nan(finite_values(a, "brightness")),
        "shot_quality_contrast_mean": mean_or_nan(finite_values(a, "contrast")),
        "shot_quality_colourfulness_mean": mean_or_nan(finite_values(a, "colourfulness")),
        "shot_quality_noise_sigma_mean": mean_or_nan(finite_values(a, "noise_sigma")),
        "shot_quality_dark_clip_ratio_mean": mean_or_nan(finite_values(a, "dark_clip_ratio")),
        "shot_quality_bright_clip_ratio_mean": mean_or_nan(finite_values(a, "bright_clip_ratio")),
    }


# shot_quality's feature-table columns ({column: description, units}).
SHOT_QUALITY_FEATURES = FeatureSet(
    _features,
    {
        "shot_quality_sharpness_mean": "mean sharpness over sampled frames",
        "shot_quality_sharpness_p10": "10th percentile sharpness (the blurriest frames)",
        "shot_quality_brightness_mean": "mean brightness, 0..1",
        "shot_quality_contrast_mean": "mean contrast",
        "shot_quality_colourfulness_mean": "mean colourfulness (Hasler-Suesstrunk)",
        "shot_quality_noise_sigma_mean": "mean noise sigma estimate",
        "shot_quality_dark_clip_ratio_mean": "mean share of crushed-black pixels, 0..1",
        "shot_quality_bright_clip_ratio_mean": "mean share of blown-out pixels, 0..1",
    },
)
