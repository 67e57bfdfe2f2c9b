"""`cut_detection`'s feature-table columns: cut counts by kind, cut rate and shot lengths,
from its artifact arrays (`cut_times_s`, `cut_kinds`, `cut_confidence`, `shot_bounds_s`).

Beside the detector (cut_detection.py) rather than in it: that module is long already.
"""

from __future__ import annotations

import numpy as np

from dp_core.component_spec import FeatureSet
from dp_features.feature_stats import (
    Arrays,
    finite_values,
    mean_or_nan,
    quantile_or_nan,
    ratio_or_nan,
    span_rows,
)


def _features(a: Arrays) -> dict[str, float]:
    kinds = np.asarray(a.get("cut_kinds", np.zeros(0, "<U1"))).astype(str)
    bounds = span_rows(a, "shot_bounds_s")
    lengths = bounds[:, 1] - bounds[:, 0]
    duration = float(bounds[:, 1].max() - bounds[:, 0].min()) if len(bounds) else 0.0
    cuts = float(finite_values(a, "cut_times_s").size)
    return {
        "cut_detection_cut_count": cuts,
        "cut_detection_hard_cut_count": float((kinds == "hard").sum()),
        "cut_detection_gradual_cut_count": float((kinds == "gradual").sum()),
        "cut_detection_cuts_per_minute": ratio_or_nan(60.0 * cuts, duration),
        "cut_detection_confidence_mean": mean_or_nan(finite_values(a, "cut_confidence")),
        "cut_detection_shot_count": float(len(bounds)),
        "cut_detection_shot_length_median_s": quantile_or_nan(lengths, 0.5),
        "cut_detection_shot_length_p10_s": quantile_or_nan(lengths, 0.1),
        "cut_detection_shot_length_p90_s": quantile_or_nan(lengths, 0.9),
    }


CUT_DETECTION_FEATURES = FeatureSet(
    _features,
    {
        "cut_detection_cut_count": "count of cuts (hard + gradual)",
        "cut_detection_hard_cut_count": "count of hard cuts",
        "cut_detection_gradual_cut_count": "count of gradual transitions",
        "cut_detection_cuts_per_minute": "cuts per minute of video",
        "cut_detection_confidence_mean": "mean cut confidence, 0..1",
        "cut_detection_shot_count": "count of shots",
        "cut_detection_shot_length_median_s": "median shot length, seconds",
        "cut_detection_shot_length_p10_s": "10th percentile shot length, seconds",
        "cut_detection_shot_length_p90_s": "90th percentile shot length, seconds",
    },
)
