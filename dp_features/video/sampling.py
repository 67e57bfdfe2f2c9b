"""Frame sampling and sizing for the segmenter: pure functions of times and sizes.

Times are seconds from the start of the video. Sampling is by presentation time, so it
stays right on variable-frame-rate input.
"""

from __future__ import annotations

import numpy as np

from dp_core.component_spec import FeatureSet
from dp_features.feature_stats import Arrays, finite_values, first_value


def fit_inside(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """Scale (width, height) down to fit inside the box, aspect kept, even sides, never up."""
    scale = min(1.0, max_width / width, max_height / height)
    return _even(width * scale), _even(height * scale)


def scale_to_width(width: int, height: int, target_width: int) -> tuple[int, int]:
    """Scale to `target_width` (never up), height by aspect ratio, even sides."""
    scale = min(1.0, target_width / width)
    return _even(width * scale), _even(height * scale)


def _even(value: float) -> int:
    return max(2, round(value / 2.0) * 2)


class TimeSampler:
    """Picks frames at a target rate from a stream of frame times (seconds, increasing).

    A frame is taken when it is the first at or after the next target time; after a gap
    (variable frame rate) missed targets are skipped, never filled with duplicates.
    `fps=None` takes every frame.
    """

    def __init__(self, fps: float | None, tolerance_s: float = 1e-3):
        self.period = None if fps is None else 1.0 / fps
        self.tolerance = tolerance_s
        self.next_time = 0.0

    def take(self, time_s: float) -> bool:
        if self.period is None:
            return True
        if time_s + self.tolerance < self.next_time:
            return False
        steps = np.floor((time_s + self.tolerance - self.next_time) / self.period) + 1
        self.next_time += steps * self.period
        return True


def budget_indices(times_s: np.ndarray, max_frames: int | None, fps: float | None) -> np.ndarray:
    """Indices into `times_s` that one component processes.

    First at most `fps` frames per second (by time), then at most `max_frames`, spread
    evenly over the whole video (always keeping the first and the last chosen frame).
    """
    times_s = np.asarray(times_s, dtype=np.float64)
    indices = np.arange(len(times_s))
    if fps is not None and len(indices):
        sampler = TimeSampler(fps)
        indices = np.array([i for i in indices if sampler.take(times_s[i])], dtype=np.int64)
    if max_frames is not None and len(indices) > max_frames:
        picks = np.linspace(0, len(indices) - 1, num=max_frames).round().astype(np.int64)
        indices = indices[np.unique(picks)]
    return indices.astype(np.int64)


def rotate_upright(frame: np.ndarray, rotation_deg: int) -> np.ndarray:
    """Apply the container's display rotation (counter-clockwise degrees) to an HxWxC frame."""
    quarter_turns = round(rotation_deg / 90.0) % 4
    if quarter_turns == 0:
        return frame
    return np.ascontiguousarray(np.rot90(frame, k=quarter_turns))


def _segmenter_features(a: Arrays) -> dict[str, float]:
    return {
        "segmenter_duration_s": first_value(a, "duration_s"),
        "segmenter_analysis_frames": float(finite_values(a, "analysis_times_s").size),
    }


# segmenter's feature-table columns ({column: description, units}).
SEGMENTER_FEATURES = FeatureSet(
    _segmenter_features,
    {
        "segmenter_duration_s": "video duration, seconds",
        "segmenter_analysis_frames": "count of analysis frames sampled",
    },
)
